import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser";
import { approvedHost, hostReports } from "../support/fleet";
import { createHarness } from "../support/harness";
import { listen } from "../support/http-server";
import { freePort } from "../support/processes";
import { okJson, team } from "../tenancy/fixtures";

/**
 * The VM console in a real browser, signed in by a session cookie: create a VM with the form, see
 * it in the list, watch the list follow the host's report without reloading, open it and stop it.
 * No CSP violations, console errors or off-origin requests along the way.
 */
describe("VM console in chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("creates, lists (live), opens and stops a VM", { timeout: 90_000 }, async () => {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const h = await createHarness({
      config: { webauthn: { rpId: "localhost", rpName: "Strato", origin } },
    });
    await listen(h.app, port);
    const t = await team(h);
    await approvedHost(h, t.org.id);
    await okJson(
      await t.admin.request(`/api/v1/organizations/${t.org.id}/images`, {
        method: "POST",
        json: {
          name: "debian-13",
          url: "https://images.example/debian-13.qcow2",
          sha256: "c".repeat(64),
          format: "qcow2",
          minDiskGb: 2,
        },
      }),
      201,
    );

    const context = await browser.newContext();
    const [name, value] = t.member.cookie.split("=");
    await context.addCookies([{ name: name ?? "", value: value ?? "", url: origin }]);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      // The 422 of the form with a bad name is expected (asserted on the page itself).
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
        problems.push(m.text());
      }
    });
    page.on("response", (r) => {
      const expected = r.status() === 422 && r.request().method() === "POST";
      if (r.status() >= 400 && !expected) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("request", (r) => {
      if (!r.url().startsWith(origin)) problems.push(`off-origin request ${r.url()}`);
    });
    await page.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (e) =>
        console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
    });

    // The form: a bad name is explained inline (htmx swaps the 422 form in).
    await page.goto(`${origin}/projects/${t.project.id}/vms/new`);
    await expect(page.locator('[data-placement="ok"]').count()).resolves.toBe(1);
    await page.getByLabel("Name").fill("Web 1");
    await page.getByRole("button", { name: "Create VM" }).click();
    await page.locator('[data-field-error="name"]').waitFor();
    // A size too big for the host: the preview says why, before submitting.
    await page.getByLabel("Preset").selectOption("custom");
    await page.getByLabel("Memory (MiB)").fill("65536");
    await page.getByLabel("Memory (MiB)").dispatchEvent("change");
    await page.locator('[data-placement="memory"]').waitFor();
    await page.getByLabel("Preset").selectOption("small");
    await page.locator('[data-placement="ok"]').waitFor();

    await page.getByLabel("Name").fill("web-1");
    await page.getByRole("button", { name: "Create VM" }).click();
    await page.waitForURL(/\/vms\/vm_/);
    const vmId = new URL(page.url()).pathname.split("/")[2] ?? "";
    await expect(page.locator("[data-flash]").textContent()).resolves.toContain(
      "web-1 is being created",
    );

    // The list shows it, and follows the host's report live (its event stream; no reload).
    await page.goto(`${origin}/projects/${t.project.id}/vms`);
    const row = page.locator(`#vms tr[data-key="${vmId}"]`);
    await expect(row.locator("[data-state]").getAttribute("data-state")).resolves.toBe(
      "provisioning",
    );
    await hostReports(h, vmId);
    await row.locator('[data-state="running"]').waitFor({ timeout: 10_000 });

    // Detail, then stop it.
    await row.getByRole("link", { name: "web-1" }).click();
    await page.waitForURL(`${origin}/vms/${vmId}`);
    await page.getByRole("button", { name: "Stop" }).click();
    await page.waitForURL(`${origin}/vms/${vmId}`);
    await page.locator('#vm-state [data-state="stopping"]').waitFor();
    await expect(page.locator("[data-flash]").textContent()).resolves.toContain("Stopping web-1");
    await expect(
      page.locator("[data-operation] .font-mono", { hasText: "vm.stop" }).count(),
    ).resolves.toBe(1);
    // The detail page follows the stop live and shows where it ends.
    await hostReports(h, vmId);
    await page.locator('#vm-state [data-state="stopped"]').waitFor({ timeout: 10_000 });
    await page.getByRole("button", { name: "Start" }).waitFor();

    expect(problems).toEqual([]);
    await context.close();
  });
});
