import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser";
import { createHarness } from "../support/harness";
import { listen } from "../support/http-server";
import { addShellFixtures, CSRF_TOKEN } from "../web/fixtures";

/** Statuses the fixtures answer on purpose; anything else >= 400 is a problem. */
const EXPECTED_ERRORS = new Set([409, 422]);

/**
 * The console shell in a real browser: htmx 4 from our origin drives forms under the strict CSP,
 * sends the CSRF token, swaps error fragments (inline field errors, problem panels), follows
 * HX-Redirect, and the navigation works on a phone-sized screen without scripts of its own.
 */
describe("console shell in chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function start() {
    const h = await createHarness();
    const received = addShellFixtures(h);
    const base = await listen(h.app);
    // The CSRF check compares Origin with the configured console origin: make it this server.
    const config = h.deps.config as { webauthn?: { origin: string } };
    if (config.webauthn) config.webauthn.origin = base;
    return { h, received, base };
  }

  /** A page that records console errors, CSP violations, unexpected error responses, other origins. */
  async function watchedPage(base: string, viewport = { width: 1280, height: 800 }) {
    const page = await browser.newPage({ viewport });
    const problems: string[] = [];
    const foreign: string[] = [];
    const csrfHeaders: (string | undefined)[] = [];
    page.on("console", (m) => {
      const text = m.text();
      // Chromium logs every 4xx fetch; the ones we provoke are checked by status below.
      if (m.type() === "error" && !/status of (409|422)/.test(text)) problems.push(text);
    });
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("response", (r) => {
      if (r.status() >= 400 && !EXPECTED_ERRORS.has(r.status())) {
        problems.push(`${r.status()} ${r.url()}`);
      }
    });
    page.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) foreign.push(r.url());
      if (r.method() === "POST") csrfHeaders.push(r.headers()["x-csrf-token"]);
    });
    await page.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (e) =>
        console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
    });
    return { page, problems, foreign, csrfHeaders };
  }

  async function htmxReady(page: Page) {
    // Page-side code as strings: tests compile without DOM types.
    await page.waitForFunction(`window.htmx?.version?.startsWith("4") === true`);
  }

  it("submits an htmx form: 422 swaps inline errors in, success redirects with a flash", async () => {
    const { base, received } = await start();
    const { page, problems, foreign, csrfHeaders } = await watchedPage(base);
    await page.goto(`${base}/fixture/form`);
    await htmxReady(page);
    // Styles come from the hashed stylesheet (the CSP blocks any other kind).
    const buttonColor = await page.evaluate(
      `getComputedStyle(document.querySelector("#fixture-form button[type=submit]")).backgroundColor`,
    );
    expect(buttonColor).toBe("rgb(79, 70, 229)");

    await page.fill("#field-name", "");
    await page.click("#fixture-form button[type=submit]");
    const sizeError = page.locator('[data-field-error="size"]');
    await sizeError.waitFor({ timeout: 5_000 });
    expect(await sizeError.innerText()).toBe("Pick a size.");
    expect(await page.locator("#field-size").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#field-size").getAttribute("aria-describedby")).toBe(
      "field-size-error",
    );
    // The form replaced itself: still exactly one, still a full page around it.
    expect(await page.locator("#fixture-form").count()).toBe(1);
    expect(await page.locator("nav[data-nav=sidebar]").count()).toBe(1);
    expect(page.url()).toBe(`${base}/fixture/form`);

    // The re-rendered form still works: fix the fields and submit again.
    await page.fill("#field-name", "web-1");
    await page.selectOption("#field-size", "small");
    await page.click("#fixture-form button[type=submit]");
    await page.waitForURL(`${base}/fixture/page`, { timeout: 5_000 });
    expect(await page.locator("[data-flash=success]").innerText()).toBe("Created web-1.");

    expect(received.csrfHeaders).toEqual([CSRF_TOKEN, CSRF_TOKEN]);
    expect(csrfHeaders).toEqual([CSRF_TOKEN, CSRF_TOKEN]);
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  });

  it("an error from an htmx request shows as a problem panel in the flash region", async () => {
    const { base } = await start();
    const { page, problems, foreign } = await watchedPage(base);
    await page.goto(`${base}/fixture/page`);
    await htmxReady(page);
    await page.click("#conflict-button");
    const panel = page.locator('#flash-region [data-problem-code="conflict"]');
    await panel.waitFor({ timeout: 5_000 });
    expect(await panel.innerText()).toContain("The VM is being deleted.");
    // The element the request targeted is left alone.
    expect(await page.locator("#content").innerText()).toContain("Hello");

    // A problem+json answer is not HTML: app.js keeps it out of the page and says what happened.
    await page.click("#json-error-button");
    const alert = page.locator("#flash-region [role=alert]", { hasText: "failed (409)" });
    await alert.waitFor({ timeout: 5_000 });
    expect(await page.locator("#content").innerText()).toContain("Hello");
    expect(await page.locator("#content").innerText()).not.toContain("conflict");
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  });

  it("navigation: sidebar on wide screens, a disclosure menu on narrow ones", async () => {
    const { base } = await start();
    const wide = await watchedPage(base);
    await wide.page.goto(`${base}/fixture/page`);
    expect(await wide.page.locator("nav[data-nav=sidebar]").isVisible()).toBe(true);
    expect(await wide.page.locator("[data-menu=mobile-nav] > summary").isVisible()).toBe(false);
    await wide.page.close();

    const { page, problems, foreign } = await watchedPage(base, { width: 375, height: 740 });
    await page.goto(`${base}/fixture/page`);
    const sidebar = page.locator("nav[data-nav=sidebar]");
    const mobileLink = page.locator('nav[data-nav=mobile] a[href="/vms"]');
    expect(await sidebar.isVisible()).toBe(false);
    expect(await mobileLink.isVisible()).toBe(false);
    await page.click("[data-menu=mobile-nav] > summary");
    expect(await mobileLink.isVisible()).toBe(true);
    const box = await page.locator("nav[data-nav=mobile]").boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(300);
    // Nothing overflows the narrow viewport horizontally.
    const overflow = await page.evaluate(
      "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    expect(overflow).toBeLessThanOrEqual(0);
    // The user menu opens too, with its sign-out form.
    await page.click("[data-menu=user] > summary");
    expect(await page.locator("[data-menu=user] button", { hasText: "Sign out" }).isVisible()).toBe(
      true,
    );
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  });
});
