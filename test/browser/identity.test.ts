import type { Browser, CDPSession, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureSetupCode } from "../../src/domain/identity/setup-code";
import { launchChromium } from "../support/browser";
import { createHarness } from "../support/harness";
import { listen } from "../support/http-server";
import { freePort } from "../support/processes";

/**
 * The first-run journey in a real browser with a CDP virtual authenticator (a platform
 * authenticator with resident keys and user verification): set-up code → passkey → sign out →
 * username-less sign-in → a second passkey → an organization and a project → an invitation.
 */
describe("identity in chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function virtualAuthenticator(
    page: Page,
    cdpSession?: CDPSession,
    transport: "internal" | "usb" = "internal",
  ): Promise<CDPSession> {
    const cdp = cdpSession ?? (await page.context().newCDPSession(page));
    if (!cdpSession) await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport,
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return cdp;
  }

  it("sets up, signs in username-less, adds a passkey, creates an org and project, invites", {
    timeout: 90_000,
  }, async () => {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const h = await createHarness({
      config: { webauthn: { rpId: "localhost", rpName: "Strato", origin } },
    });
    await listen(h.app, port);
    const code = await ensureSetupCode(h.deps);
    if (!code) throw new Error("expected a set-up code");

    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      // Refused requests (the wrong set-up code) are expected and asserted on the page itself.
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
        problems.push(m.text());
      }
    });
    page.on("response", (r) => {
      if (r.status() >= 500) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("request", (r) => {
      if (!r.url().startsWith(origin)) problems.push(`off-origin request ${r.url()}`);
    });
    await page.addInitScript({
      content: `document.addEventListener("securitypolicyviolation", (e) =>
        console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
    });
    const cdp = await virtualAuthenticator(page);

    // A fresh installation sends the first visitor to set-up.
    await page.goto(`${origin}/`);
    await page.waitForURL(`${origin}/setup`);
    // A wrong code is reported next to its field.
    await page.getByLabel("Set-up code").fill("WRONG-CODE");
    await page.getByLabel("Email").fill("ada@example.test");
    await page.getByLabel("Your name").fill("Ada Lovelace");
    await page.getByRole("button", { name: /create admin account/i }).click();
    await expect(page.locator("[data-passkey-error]").first().textContent()).resolves.toMatch(
      /set-up code/i,
    );

    await page.getByLabel("Set-up code").fill(code);
    await page.getByRole("button", { name: /create admin account/i }).click();
    await page.waitForURL(`${origin}/`);
    await expect(
      page.getByRole("heading", { name: "Welcome, Ada Lovelace" }).count(),
    ).resolves.toBe(1);

    // Sign out from the user menu.
    await page.locator('[data-menu="user"] summary').click();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in/);

    // Username-less sign-in: the authenticator offers the resident credential.
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.waitForURL(`${origin}/`);

    // A second passkey on another device (a second virtual authenticator, a USB key; the first one already
    // holds a passkey for this account and is excluded by the options).
    await virtualAuthenticator(page, cdp, "usb");
    await page.goto(`${origin}/account/passkeys`);
    await page.getByLabel("Name (optional)").fill("Backup key");
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await page.locator("#passkeys [data-key]").nth(1).waitFor({ timeout: 10_000 });
    await expect(page.locator('#passkeys input[name="name"]').nth(1).inputValue()).resolves.toBe(
      "Backup key",
    );

    // An organization and a project, through the console's forms (htmx posts and redirects).
    await page.goto(`${origin}/orgs/new`);
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Acme Robotics");
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.waitForURL(/\/orgs\/org_/);
    const orgUrl = page.url();
    await page.getByRole("link", { name: "New project" }).click();
    await page.getByRole("textbox", { name: "Name", exact: true }).fill("Web");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.waitForURL(/\/projects\/prj_/);
    await expect(page.getByRole("heading", { name: "Web" }).count()).resolves.toBe(1);

    // An invitation: the link is shown once, in place.
    await page.goto(orgUrl);
    await page.locator("#invite-form").getByLabel("Email").fill("grace@example.test");
    await page.getByRole("button", { name: "Invite" }).click();
    const link = page.getByLabel("Invitation link");
    await link.waitFor();
    const inviteUrl = await link.inputValue();
    expect(inviteUrl).toMatch(new RegExp(`^${origin}/invitations/`));

    // The invitee opens the link in another browser and creates an account with a passkey.
    const invitee = await browser.newContext();
    const other = await invitee.newPage();
    other.on("pageerror", (e) => problems.push(e.message));
    await virtualAuthenticator(other);
    await other.goto(inviteUrl);
    await other.getByRole("link", { name: "Create an account" }).click();
    await expect(other.getByLabel("Email").inputValue()).resolves.toBe("grace@example.test");
    await other.getByLabel("Your name").fill("Grace Hopper");
    await other.getByRole("button", { name: /create account/i }).click();
    await other.waitForURL(`${origin}/`);
    await expect(other.locator("body").innerText()).resolves.toContain("Acme Robotics");
    await invitee.close();

    expect(problems).toEqual([]);
    await context.close();
  });
});
