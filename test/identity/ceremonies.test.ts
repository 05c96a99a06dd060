import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { auditEvents, rateLimits, sessions, webauthnChallenges } from "../../src/db/schema";
import { CHALLENGE_TTL_MS } from "../../src/domain/identity/ceremonies";
import { ensureSetupCode } from "../../src/domain/identity/setup-code";
import { runPeriodicJobs } from "../../src/domain/periodic";
import { createHarness, type Harness } from "../support/harness";
import { type CeremonyStart, TestBrowser } from "./client";

type Problem = { code: string; errors?: { field: string }[] };

async function freshInstall(h: Harness): Promise<string> {
  const code = await ensureSetupCode(h.deps);
  if (!code) throw new Error("expected a set-up code on a fresh install");
  return code;
}

/** A set-up installation with its admin signed in. */
async function withAdmin() {
  const h = await createHarness();
  const admin = new TestBrowser(h);
  const res = await admin.signUp({ email: "admin@example.test", setupCode: await freshInstall(h) });
  expect(res.status).toBe(201);
  return { h, admin };
}

describe("set-up of a fresh installation", () => {
  it("makes the first person with the set-up code platform admin, once", async () => {
    const h = await createHarness();
    const code = await freshInstall(h);
    const browser = new TestBrowser(h);

    const wrong = await browser.signUp({
      email: "a@example.test",
      setupCode: "AAAAA-BBBBB-CCCCC-DDDDD",
    });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as Problem).code).toBe("setup_code_invalid");

    // People type codes: lower case and missing dashes are forgiven.
    const ok = await browser.signUp({
      email: "A@Example.test",
      setupCode: code.toLowerCase().replaceAll("-", ""),
    });
    expect(ok.status).toBe(201);
    const body = (await ok.json()) as {
      user: { email: string; isPlatformAdmin: boolean };
      csrfToken: string;
    };
    expect(body.user).toMatchObject({ email: "a@example.test", isPlatformAdmin: true });
    expect(ok.headers.get("set-cookie")).toMatch(/^strato_session=[^;]+;.*HttpOnly.*SameSite=Lax/i);
    expect(await ensureSetupCode(h.deps)).toBeNull();

    const again = await new TestBrowser(h).signUp({ email: "b@example.test", setupCode: code });
    expect(again.status).toBe(409);
    expect(((await again.json()) as Problem).code).toBe("already_set_up");
  });

  it("refuses sign-up without the code while nobody has an account", async () => {
    const h = await createHarness();
    await freshInstall(h);
    const res = await new TestBrowser(h).signUp({ email: "a@example.test" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as Problem).code).toBe("setup_code_invalid");
  });

  it("accepts packed self-attestation as well as none", async () => {
    const h = await createHarness();
    const browser = new TestBrowser(h, { format: "packed" });
    const res = await browser.signUp({ email: "p@example.test", setupCode: await freshInstall(h) });
    expect(res.status).toBe(201);
    const passkeys = await browser.request("/api/v1/me/passkeys");
    const { items } = (await passkeys.json()) as {
      items: { backedUp: boolean; deviceType: string }[];
    };
    // Backup flags from the authenticator data are stored.
    expect(items).toEqual([expect.objectContaining({ backedUp: true, deviceType: "multiDevice" })]);
  });
});

describe("sign-up after set-up", () => {
  it("is by invitation unless configured open", async () => {
    const { h } = await withAdmin();
    const res = await new TestBrowser(h).signUp({ email: "new@example.test" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as Problem).code).toBe("signup_closed");
  });

  it("is open when STRATO_SIGNUP=open, but an email is registered once", async () => {
    const h = await createHarness({ config: { signup: "open" } });
    await new TestBrowser(h).signUp({
      email: "admin@example.test",
      setupCode: await freshInstall(h),
    });
    const first = await new TestBrowser(h).signUp({ email: "new@example.test" });
    expect(first.status).toBe(201);
    expect(
      ((await first.json()) as { user: { isPlatformAdmin: boolean } }).user.isPlatformAdmin,
    ).toBe(false);
    const twice = await new TestBrowser(h).signUp({ email: "NEW@example.test" });
    expect(twice.status).toBe(409);
    expect(((await twice.json()) as Problem).code).toBe("email_taken");
  });

  it("accepts an invitation: the new account joins the organization with the invited role", async () => {
    const { h, admin } = await withAdmin();
    const org = (await (
      await admin.request("/api/v1/organizations", { json: { name: "Acme" } })
    ).json()) as {
      id: string;
    };
    const invited = await admin.request(`/api/v1/organizations/${org.id}/invitations`, {
      json: { email: "new@example.test", role: "member" },
    });
    expect(invited.status).toBe(201);
    const { url } = (await invited.json()) as { url: string };
    const secret = url.split("/").pop() ?? "";

    const wrongEmail = await new TestBrowser(h).signUp({
      email: "other@example.test",
      invitation: secret,
    });
    expect(wrongEmail.status).toBe(422);
    const newcomer = new TestBrowser(h);
    const joined = await newcomer.signUp({ email: "new@example.test", invitation: secret });
    expect(joined.status).toBe(201);
    const members = (await (
      await newcomer.request(`/api/v1/organizations/${org.id}/members`)
    ).json()) as {
      items: { email: string; role: string }[];
    };
    expect(members.items).toContainEqual(
      expect.objectContaining({ email: "new@example.test", role: "member" }),
    );
    // The link worked once.
    const again = await new TestBrowser(h).signUp({
      email: "new@example.test",
      invitation: secret,
    });
    expect(again.status).toBe(410);
    expect(((await again.json()) as Problem).code).toBe("invitation_invalid");
  });

  it("rejects bad input with the offending fields", async () => {
    const h = await createHarness();
    const res = await new TestBrowser(h).request("/api/v1/auth/sign-up/options", {
      json: { email: "not-an-email", displayName: "" },
    });
    expect(res.status).toBe(422);
    const fields = ((await res.json()) as Problem).errors?.map((e) => e.field).sort();
    expect(fields).toEqual(["displayName", "email"]);
  });
});

describe("sign-in", () => {
  it("works username-less with a discoverable passkey and starts a new session", async () => {
    const { h, admin } = await withAdmin();
    const before = admin.cookie;
    const res = await admin.signIn();
    expect(res.status).toBe(200);
    expect(admin.cookie).not.toBe(before);
    // The old session ended when the new one began.
    const stale = new TestBrowser(h);
    stale.cookie = before;
    expect((await stale.request("/api/v1/me/sessions")).status).toBe(401);
    expect((await admin.request("/api/v1/me/sessions")).status).toBe(200);
  });

  it("email-first names the account's credentials, and unknown emails look the same as username-less", async () => {
    const { h, admin } = await withAdmin();
    const known = await admin.request("/api/v1/auth/sign-in/options", {
      json: { email: "admin@example.test" },
    });
    const { options } = (await known.json()) as CeremonyStart;
    expect(options.allowCredentials).toEqual([
      expect.objectContaining({ id: admin.authenticator.credentialIds[0] }),
    ]);
    expect(options.userVerification).toBe("required");

    const unknown = await new TestBrowser(h).request("/api/v1/auth/sign-in/options", {
      json: { email: "nobody@example.test" },
    });
    expect(((await unknown.json()) as CeremonyStart).options.allowCredentials).toEqual([]);
    expect((await admin.signIn("admin@example.test")).status).toBe(200);
  });

  it.each([
    ["a wrong origin", { origin: "https://evil.example" }],
    ["a wrong RP ID", { rpId: "evil.example" }],
    ["a wrong ceremony type", { type: "webauthn.create" }],
    ["no user verification", { userVerified: false }],
    ["a signed challenge that is not ours", { challenge: "c29tZXRoaW5nIGVsc2U" }],
  ])("refuses an assertion with %s", async (_label, overrides) => {
    const { admin } = await withAdmin();
    const res = await admin.signIn(undefined, overrides);
    expect(res.status).toBe(400);
    expect(((await res.json()) as Problem).code).toBe("webauthn_failed");
  });

  it("refuses a sign counter that went backwards (a cloned authenticator)", async () => {
    const { admin } = await withAdmin();
    expect((await admin.signIn(undefined, { counter: 5 })).status).toBe(200);
    const res = await admin.signIn(undefined, { counter: 3 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Problem).code).toBe("webauthn_failed");
  });

  it("refuses a credential it does not know", async () => {
    const { h } = await withAdmin();
    const stranger = new TestBrowser(h);
    // A key pair this installation never registered.
    await stranger.authenticator.create({
      challenge: "AAAA",
      rp: { id: "localhost" },
      user: { id: "dXNy" },
    });
    const res = await stranger.signIn();
    expect(res.status).toBe(400);
    expect(((await res.json()) as Problem).code).toBe("webauthn_failed");
  });

  it("uses each challenge once and only while it is fresh", async () => {
    const { h, admin } = await withAdmin();
    const started = await admin.request("/api/v1/auth/sign-in/options", { json: {} });
    const { ceremonyId, options } = (await started.json()) as CeremonyStart;
    const credential = await admin.authenticator.get(options as never);
    const first = await admin.request("/api/v1/auth/sign-in", { json: { ceremonyId, credential } });
    expect(first.status).toBe(200);
    admin.csrfToken = ((await first.json()) as { csrfToken: string }).csrfToken;
    const replay = await admin.request("/api/v1/auth/sign-in", {
      json: { ceremonyId, credential },
    });
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as Problem).code).toBe("challenge_invalid");

    const late = await admin.request("/api/v1/auth/sign-in/options", { json: {} });
    const lateStart = (await late.json()) as CeremonyStart;
    h.clock.advance(CHALLENGE_TTL_MS + 1);
    const lateCredential = await admin.authenticator.get(lateStart.options as never);
    const expired = await admin.request("/api/v1/auth/sign-in", {
      json: { ceremonyId: lateStart.ceremonyId, credential: lateCredential },
    });
    expect(((await expired.json()) as Problem).code).toBe("challenge_invalid");
  });

  it("rate-limits ceremonies per address with 429 and Retry-After", async () => {
    const h = await createHarness();
    const browser = new TestBrowser(h, { ip: "198.51.100.9" });
    const statuses: number[] = [];
    let last = new Response();
    for (let i = 0; i < 31; i++) {
      last = await browser.request("/api/v1/auth/sign-in/options", { json: {} });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(last.status).toBe(429);
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await last.json()) as Problem).code).toBe("rate_limited");
    // Another address is unaffected; the window passes.
    const other = new TestBrowser(h, { ip: "198.51.100.10" });
    expect((await other.request("/api/v1/auth/sign-in/options", { json: {} })).status).toBe(200);
    h.clock.advance(60_001);
    expect((await browser.request("/api/v1/auth/sign-in/options", { json: {} })).status).toBe(200);
  });

  it("rate-limits per account too, whatever the address, without locking the owner out", async () => {
    const { h, admin } = await withAdmin();
    let last: Response | undefined;
    for (let i = 0; i < 11; i++) {
      last = await new TestBrowser(h, { ip: `192.0.2.${i}` }).request(
        "/api/v1/auth/sign-in/options",
        {
          json: { email: "admin@example.test" },
        },
      );
    }
    expect(last?.status).toBe(429);
    // The flood named the account, but its owner still signs in with the passkey.
    expect((await admin.signIn()).status).toBe(200);
  });

  it("the periodic jobs drop spent challenges, old counters and ended sessions, and keep live ones", async () => {
    const { h, admin } = await withAdmin();
    const stranger = new TestBrowser(h, { ip: "192.0.2.77" });
    for (let i = 0; i < 3; i++) {
      await stranger.request("/api/v1/auth/sign-in/options", {
        json: { email: `x${i}@example.test` },
      });
    }
    const rows = async () => ({
      challenges: (await h.deps.db.select().from(webauthnChallenges)).length,
      counters: (await h.deps.db.select().from(rateLimits)).length,
      sessions: (await h.deps.db.select().from(sessions)).length,
    });
    const before = await rows();
    expect(before.challenges).toBeGreaterThanOrEqual(3);
    await runPeriodicJobs(h.deps);
    expect(await rows()).toEqual(before);
    expect((await admin.request("/api/v1/me")).status).toBe(200);

    h.clock.advance(2 * 86_400_000);
    await runPeriodicJobs(h.deps);
    expect(await rows()).toEqual({ challenges: 0, counters: 0, sessions: 0 });
  });
});

describe("passkeys of a signed-in person", () => {
  it("refuses a passkey whose credential is registered already: 400 webauthn_failed, not a 500", async () => {
    const { admin } = await withAdmin();
    const taken = admin.authenticator.credentialIds[0];
    if (!taken) throw new Error("the admin has no passkey");
    const started = await admin.request("/api/v1/me/passkeys/options", { json: {} });
    const { ceremonyId, options } = (await started.json()) as CeremonyStart;
    // A browser would exclude it (excludeCredentials); a client that does not is still refused.
    const credential = await admin.authenticator.create(options as never, { credentialId: taken });
    const added = await admin.request("/api/v1/me/passkeys", {
      json: { ceremonyId, credential, name: "Copied" },
    });
    expect(added.status).toBe(400);
    expect(added.headers.get("content-type")).toContain("application/problem+json");
    expect(((await added.json()) as Problem).code).toBe("webauthn_failed");
  });

  it("adds, renames and removes passkeys but never the last one", async () => {
    const { h, admin } = await withAdmin();
    const started = await admin.request("/api/v1/me/passkeys/options", { json: {} });
    expect(started.status).toBe(200);
    const { ceremonyId, options } = (await started.json()) as CeremonyStart;
    // The existing credential is excluded so the same authenticator is not registered twice.
    expect(options.excludeCredentials).toEqual([
      expect.objectContaining({ id: admin.authenticator.credentialIds[0] }),
    ]);
    const credential = await admin.authenticator.create(options as never);
    const added = await admin.request("/api/v1/me/passkeys", {
      json: { ceremonyId, credential, name: "Laptop" },
    });
    expect(added.status).toBe(201);
    const second = (await added.json()) as { id: string; name: string };
    expect(second.name).toBe("Laptop");

    const renamed = await admin.request(`/api/v1/me/passkeys/${second.id}`, {
      method: "PATCH",
      json: { name: "Work laptop" },
    });
    expect(((await renamed.json()) as { name: string }).name).toBe("Work laptop");

    const list = (await (await admin.request("/api/v1/me/passkeys")).json()) as {
      items: { id: string }[];
    };
    expect(list.items).toHaveLength(2);
    const first = list.items.find((p) => p.id !== second.id);
    expect(
      (await admin.request(`/api/v1/me/passkeys/${first?.id}`, { method: "DELETE" })).status,
    ).toBe(204);
    const last = await admin.request(`/api/v1/me/passkeys/${second.id}`, { method: "DELETE" });
    expect(last.status).toBe(409);
    expect(((await last.json()) as Problem).code).toBe("last_passkey");
    // Audited with the removal itself: once, and not for the refused one.
    const removals = await h.deps.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, "passkey.remove"));
    expect(removals.map((e) => e.detail)).toEqual([
      expect.objectContaining({ passkey: first?.id }),
    ]);
    // The remaining passkey still signs in (email-first: the browser is told which one).
    expect((await admin.signIn("admin@example.test")).status).toBe(200);
  });

  it("needs the CSRF token for cookie-authenticated changes", async () => {
    const { admin } = await withAdmin();
    const token = admin.csrfToken;
    admin.csrfToken = undefined;
    const res = await admin.request("/api/v1/me/passkeys/options", { json: {} });
    expect(res.status).toBe(403);
    expect(((await res.json()) as Problem).code).toBe("csrf_failed");
    admin.csrfToken = "wrong";
    expect((await admin.request("/api/v1/me/passkeys/options", { json: {} })).status).toBe(403);
    admin.csrfToken = token;
    expect((await admin.request("/api/v1/me/passkeys/options", { json: {} })).status).toBe(200);
  });

  it("cannot touch another person's passkeys", async () => {
    const h = await createHarness({ config: { signup: "open" } });
    const admin = new TestBrowser(h);
    await admin.signUp({ email: "admin@example.test", setupCode: await freshInstall(h) });
    const other = new TestBrowser(h);
    await other.signUp({ email: "other@example.test" });
    const theirs = (await (await other.request("/api/v1/me/passkeys")).json()) as {
      items: { id: string }[];
    };
    const res = await admin.request(`/api/v1/me/passkeys/${theirs.items[0]?.id}`, {
      method: "DELETE",
    });
    expect(res.status).toBe(404);
  });

  it("requires a session", async () => {
    const h = await createHarness();
    const res = await new TestBrowser(h).request("/api/v1/me/passkeys");
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("sessions", () => {
  it("lists, revokes, signs out, and expires when idle or too old", async () => {
    const { h, admin } = await withAdmin();
    const laptop = admin;

    const list = (await (await laptop.request("/api/v1/me/sessions")).json()) as {
      items: { id: string; current: boolean }[];
    };
    expect(list.items).toEqual([expect.objectContaining({ current: true })]);

    // Idle expiry.
    h.clock.advance(h.deps.config.session.idleMs + 1);
    expect((await laptop.request("/api/v1/me/sessions")).status).toBe(401);

    // Absolute expiry, even when active.
    await laptop.signIn();
    for (let t = 0; t < h.deps.config.session.maxMs; t += h.deps.config.session.idleMs / 2) {
      h.clock.advance(h.deps.config.session.idleMs / 2);
      const res = await laptop.request("/api/v1/me/sessions");
      if (res.status === 401) break;
    }
    expect((await laptop.request("/api/v1/me/sessions")).status).toBe(401);

    await laptop.signIn();
    const out = await laptop.request("/api/v1/auth/sign-out", { method: "POST" });
    expect(out.status).toBe(204);
    expect(laptop.cookie).toBeUndefined();
  });

  it("revokes another of one's sessions", async () => {
    const { h, admin } = await withAdmin();
    const second = new TestBrowser(h);
    // The same authenticator, used from a second browser.
    Object.assign(second, { authenticator: admin.authenticator });
    expect((await second.signIn()).status).toBe(200);
    const list = (await (await admin.request("/api/v1/me/sessions")).json()) as {
      items: { id: string; current: boolean }[];
    };
    const other = list.items.find((s) => !s.current);
    expect(
      (await admin.request(`/api/v1/me/sessions/${other?.id}`, { method: "DELETE" })).status,
    ).toBe(204);
    expect((await second.request("/api/v1/me/sessions")).status).toBe(401);
    expect(
      (await admin.request(`/api/v1/me/sessions/${other?.id}`, { method: "DELETE" })).status,
    ).toBe(404);
  });
});
