import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser";
import { hostReports as hostReportsNow, vmFleet } from "../support/fleet";
import type { Harness } from "../support/harness";
import { listen } from "../support/http-server";
import { freePort } from "../support/processes";
import { okJson, type Team } from "../tenancy/fixtures";

/** Plays the host: the latest work item of the VM succeeded (a second later). */
async function hostReportsLater(h: Harness, vmId: string) {
  h.clock.advance(1000);
  await hostReportsNow(h, vmId);
}

async function stopThroughApi(h: Harness, t: Team, vmId: string) {
  h.clock.advance(1000);
  await okJson(await t.member.request(`/api/v1/vms/${vmId}/stop`, { method: "POST" }), 202);
}

/** Milliseconds until the VM's state on the page is `state`. */
async function timeUntilState(page: Page, state: string, timeout: number): Promise<number> {
  const started = Date.now();
  await page.locator(`#vm-state [data-state="${state}"]`).waitFor({ timeout });
  return Date.now() - started;
}

/**
 * The VM page's live updates in a real browser: the state changes on the page as the host reports,
 * through the event stream and not by polling; the stream connects even when the SSE extension
 * loads after htmx has processed the page; when the stream cannot connect, polling takes over
 * without an error shown.
 */
describe("live VM page in chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("follows the VM by its event stream, and by polling when there is none", {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const { h, t, imageId } = await vmFleet({
      config: {
        webauthn: { rpId: "localhost", rpName: "Strato", origin },
        live: { checkMs: 200, heartbeatMs: 15_000, maxMs: 300_000 },
      },
    });
    await listen(h.app, port);
    const created = await t.member.request(`/api/v1/projects/${t.project.id}/vms`, {
      method: "POST",
      json: { name: "web-1", imageId, vcpus: 1, memoryMb: 1024, diskGb: 10 },
    });
    const vmId = (await okJson<{ vm: { id: string } }>(created, 202)).vm.id;
    await hostReportsLater(h, vmId);

    const context = await browser.newContext();
    try {
      const [name, value] = t.member.cookie.split("=");
      await context.addCookies([{ name: name ?? "", value: value ?? "", url: origin }]);
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      let streamBlocked = false;
      page.on("console", (m) => {
        // The blocked stream of the second half shows up as a failed load, which htmx logs.
        const expected =
          m.text().startsWith("Failed to load resource") ||
          (streamBlocked && m.text().startsWith("htmx: htmx:error: Failed to fetch"));
        if (m.type() === "error" && !expected) problems.push(m.text());
      });
      await page.addInitScript({
        content: `document.addEventListener("securitypolicyviolation", (e) =>
          console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
      });
      const requests: string[] = [];
      page.on("request", (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
      const polls = () => requests.filter((r) => r === `GET /vms/${vmId}`).length;

      // Streamed: the page connects to its events URL and the stop arrives at once, though a
      // running VM's page would poll only every 15 s.
      await page.goto(`${origin}/vms/${vmId}`);
      await page.locator('#vm-live-stream[data-live-stream="open"]').waitFor();
      expect(requests).toContain(`GET /vms/${vmId}/events`);
      await stopThroughApi(h, t, vmId);
      expect(await timeUntilState(page, "stopping", 5000)).toBeLessThan(3000);
      // While the stop runs the fallback would poll every 3 s; the stream holds it back.
      await page.waitForTimeout(3500);
      await hostReportsLater(h, vmId);
      await timeUntilState(page, "stopped", 3000);
      await page.getByRole("button", { name: "Start" }).waitFor();
      // One GET of the page itself, no polls.
      expect(polls()).toBe(1);

      // The extension arriving after htmx has processed the page still connects.
      await page.route(`${origin}/static/vendor/htmx/hx-sse.min.js*`, async (route) => {
        await new Promise((r) => setTimeout(r, 300));
        await route.continue();
      });
      await page.reload();
      await page.locator('#vm-live-stream[data-live-stream="open"]').waitFor({ timeout: 5000 });
      await page.unroute(`${origin}/static/vendor/htmx/hx-sse.min.js*`);

      // No stream (a proxy that refuses it): the page polls instead, and shows no error.
      streamBlocked = true;
      await page.route(`${origin}/vms/${vmId}/events*`, (route) => route.abort());
      h.clock.advance(1000);
      await okJson(await t.member.request(`/api/v1/vms/${vmId}/start`, { method: "POST" }), 202);
      await page.reload();
      await page.locator("#vm-live[data-poll-fallback]").waitFor();
      const before = polls();
      await hostReportsLater(h, vmId);
      await timeUntilState(page, "running", 5000);
      expect(polls()).toBeGreaterThan(before);
      await expect(page.locator("#vm-live-stream").getAttribute("data-live-stream")).resolves.toBe(
        "closed",
      );
      await expect(page.locator('#flash-region [role="alert"]').count()).resolves.toBe(0);

      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
