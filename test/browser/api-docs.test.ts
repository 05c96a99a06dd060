import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser";
import { createHarness } from "../support/harness";
import { listen } from "../support/http-server";

/**
 * The API reference in a real browser: it must render every documented operation under our strict
 * CSP, load nothing from anywhere but our origin, and log no errors. (CSP mistakes only show here.)
 */
describe("/api/docs in chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("renders every operation from our origin with no CSP violations or errors", async () => {
    const h = await createHarness();
    const base = await listen(h.app);
    const page = await browser.newPage();
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url());
    });
    // Runs in the page: report CSP violations as console errors, which the listener collects.
    await page.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (e) =>
        console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
    });

    await page.goto(`${base}/api/docs`);
    await page.locator(".opblock").first().waitFor({ timeout: 15_000 });

    const doc = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, object>;
    };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    expect(await page.locator(".opblock").count()).toBe(operations);
    await expect(
      page.locator(".opblock-summary-path", { hasText: "/readyz" }).count(),
    ).resolves.toBe(1);
    // Expanding an operation renders its responses and schemas (more DOM, more styles).
    await page.locator(".opblock-summary", { hasText: "/readyz" }).click();
    await page.locator(".opblock-body .responses-wrapper").first().waitFor({ timeout: 5_000 });
    expect(await page.locator(".opblock-body").first().innerText()).toContain("503");
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  });
});
