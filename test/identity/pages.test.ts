import { describe, expect, it } from "vitest";
import { ensureSetupCode } from "../../src/domain/identity/setup-code";
import { signedInUser } from "../support/actors";
import { createHarness } from "../support/harness";

/** The identity pages over HTTP: where anonymous visitors go, what signed-in people see. */
describe("identity pages", () => {
  it("sends the first visitor of a fresh installation to set-up, later ones to sign-in", async () => {
    const h = await createHarness();
    await ensureSetupCode(h.deps);
    const first = await h.request("/");
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/setup");
    const setup = await h.request("/setup");
    expect(setup.status).toBe(200);
    const html = await setup.text();
    expect(html).toContain('data-passkey="sign-up"');
    expect(html).toMatch(/<script src="\/static\/vendor\/simplewebauthn\/[^"]+"/);
    expect(html).toContain('src="/static/js/passkeys.js"');

    await signedInUser(h);
    expect((await h.request("/")).headers.get("location")).toBe("/sign-in");
    expect((await h.request("/setup")).headers.get("location")).toBe("/sign-in");
    const signIn = await (await h.request("/sign-in")).text();
    expect(signIn).toContain("Sign in with a passkey");
    // Invitation-only by default: no sign-up link.
    expect(signIn).not.toContain('href="/sign-up"');
  });

  it("sends anonymous visitors of console pages to sign-in and back, never off-site", async () => {
    const h = await createHarness();
    await signedInUser(h);
    const res = await h.request("/account/passkeys");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/sign-in?next=%2Faccount%2Fpasskeys");
    for (const next of [
      "//evil.example/",
      // A tab, a newline or a backslash: browsers drop the first two and read the last as "/".
      "/%09/evil.example",
      "/%0a/evil.example",
      "/%5Cevil.example",
      "/%5C%5Cevil.example",
      "https://evil.example/",
      // Dot segments that resolve to "//evil.example".
      "/.//evil.example/",
      "/a/..//evil.example",
      "/%2e//evil.example",
    ]) {
      const page = await (await h.request(`/sign-in?next=${next}`)).text();
      expect(page, next).toContain('data-next="/"');
      expect(page, next).not.toContain("evil.example");
    }
    const own = await (await h.request("/sign-in?next=%2Fvms%3Fstate%3Drunning")).text();
    expect(own).toContain('data-next="/vms?state=running"');
  });

  it("shows the signed-in person's passkeys and sessions with the CSRF token in the page", async () => {
    const h = await createHarness();
    const ada = await signedInUser(h, { name: "Ada Lovelace" });
    const res = await ada.request("/account/sessions");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<meta name="csrf-token" content="${ada.csrfToken}"`);
    expect(html).toContain("this browser");
    expect(html).toContain("Ada Lovelace");
    const signedInAlready = await ada.request("/sign-in?next=/account/sessions");
    expect(signedInAlready.headers.get("location")).toBe("/account/sessions");
    for (const next of ["/%09/evil.example", "/.//evil.example/"]) {
      const offSite = await ada.request(`/sign-in?next=${next}`);
      expect(offSite.headers.get("location"), next).toBe("/");
    }
  });

  it("signs out with the user menu's form (CSRF field) and refuses it without one", async () => {
    const h = await createHarness();
    const ada = await signedInUser(h);
    const forged = await h.request("/sign-out", {
      method: "POST",
      headers: {
        cookie: ada.cookie,
        origin: h.deps.config.webauthn.origin,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "",
    });
    expect(forged.status).toBe(403);
    const crossSite = await h.request("/sign-out", {
      method: "POST",
      headers: {
        cookie: ada.cookie,
        origin: "https://evil.example",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: `_csrf=${ada.csrfToken}`,
    });
    expect(crossSite.status).toBe(403);

    const out = await h.request("/sign-out", {
      method: "POST",
      headers: {
        cookie: ada.cookie,
        origin: h.deps.config.webauthn.origin,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: `_csrf=${ada.csrfToken}`,
    });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/sign-in");
    expect((await ada.request("/account/sessions")).status).toBe(303);
  });

  it("ends another session from the sessions page", async () => {
    const h = await createHarness();
    const ada = await signedInUser(h);
    const list = (await (await ada.request("/api/v1/me/sessions")).json()) as {
      items: { id: string }[];
    };
    expect(list.items).toHaveLength(1);
    // The form refuses to end a session that is not one's own.
    const other = await signedInUser(h);
    const res = await other.request(`/account/sessions/${list.items[0]?.id}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `_csrf=${other.csrfToken}`,
    });
    expect(res.status).toBe(303);
    expect((await ada.request("/api/v1/me/sessions")).status).toBe(200);
  });
});
