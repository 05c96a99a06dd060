import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ServiceError } from "../../src/domain/errors";
import { ProblemError } from "../../src/http/problem";
import { formFailure } from "../../src/web/forms";
import { createHarness } from "../support/harness";
import { addShellFixtures, CSRF_TOKEN } from "./fixtures";

const root = join(import.meta.dirname, "../..");
const HTML = { accept: "text/html,application/xhtml+xml" };
const PARTIAL = { ...HTML, "hx-request": "true", "hx-request-type": "partial" };

async function setup() {
  const h = await createHarness();
  const received = addShellFixtures(h);
  return { h, received };
}

function form(fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    body: new URLSearchParams({ _csrf: CSRF_TOKEN, ...fields }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", ...HTML, ...headers },
  };
}

/** The first `name=value` of a Set-Cookie header, as a browser would send it back. */
function cookiePair(res: Response, name: string): string | undefined {
  return res.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(";")[0];
}

describe("pages: full document or fragment", () => {
  it("a normal request gets the whole document with nav, switcher, user menu and CSRF meta", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/page", { headers: HTML });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("vary")).toContain("HX-Request-Type");
    const html = await res.text();
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain(`<meta name="csrf-token" content="${CSRF_TOKEN}"/>`);
    expect(html).toContain("<title>Fixture · Strato</title>");
    expect(html).toMatch(/<main id="main"[^>]*>/);
    for (const label of [
      "Dashboard",
      "VMs",
      "Hosts",
      "Images",
      "Projects and members",
      "New organization",
      "Passkeys",
      "Sessions",
      "API tokens",
      "Audit",
    ]) {
      expect(html).toContain(`>${label}</a>`);
    }
    // The sign-out form posts with its CSRF token; the switcher is plain links.
    expect(html).toMatch(
      /<form method="post" action="\/sign-out"[^>]*><input type="hidden" name="_csrf" value="tok-123"\/>/,
    );
    expect(html).toContain('href="/fixture/switch?org=org_2"');
    expect(html).toContain("Analytical Engines");
    // No inline scripts or styles: the CSP forbids them.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\shx-on/);
  });

  it("marks the current section in the navigation", async () => {
    const { h } = await setup();
    const html = await (await h.request("/vms/fixture/section/vm_1", { headers: HTML })).text();
    expect(html).toContain('href="/vms" aria-current="page"');
    expect(html).not.toContain('href="/" aria-current="page"');
  });

  it("an htmx partial request gets only the fragment (with its title), not the document", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/page", { headers: PARTIAL });
    expect(res.status).toBe(200);
    expect(res.headers.get("vary")).toContain("HX-Request-Type");
    const html = await res.text();
    expect(html).not.toContain("<html");
    expect(html).not.toContain('name="csrf-token"');
    expect(html).toContain("<title>Fixture · Strato</title>");
    expect(html).toContain('<p id="content">');
  });

  it("htmx 'full' requests (boosted links, history restore) get the whole document", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/page", {
      headers: { ...HTML, "hx-request": "true", "hx-request-type": "full" },
    });
    expect(await res.text()).toContain("<html");
  });

  it("the bare layout has no navigation", async () => {
    const { h } = await setup();
    const html = await (await h.request("/fixture/bare", { headers: HTML })).text();
    expect(html).toContain('<p id="bare">');
    expect(html).not.toContain(">Dashboard</a>");
    expect(html).not.toContain("/sign-out");
  });
});

describe("forms", () => {
  it("invalid input re-renders the form with inline, accessible errors (422 fragment)", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/form", form({ name: '<b>"x"', size: "huge" }, PARTIAL));
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).not.toContain("<html");
    expect(html).toContain('id="fixture-form"');
    expect(html).toMatch(
      /<select[^>]*id="field-size"[^>]*aria-invalid="true"[^>]*aria-describedby="field-size-error"/,
    );
    expect(html).toContain(
      '<p id="field-size-error" class="text-sm text-red-600" data-field-error="size">Pick a size.</p>',
    );
    // The name was fine: no error, and the submitted value comes back escaped.
    expect(html).not.toContain('data-field-error="name"');
    expect(html).toContain('value="&lt;b&gt;&quot;x&quot;"');
    expect(html).toMatch(/<input[^>]*id="field-name"[^>]*aria-describedby="field-name-hint"/);
  });

  it("without htmx the 422 is the whole page", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/form", form({ name: "", size: "" }));
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain("<html");
    expect(html).toContain('data-field-error="name"');
    expect(html).toContain('data-field-error="size"');
  });

  it("a conflict shows as the form's own error", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/form", form({ name: "taken", size: "small" }, PARTIAL));
    expect(res.status).toBe(409);
    const html = await res.text();
    expect(html).toMatch(/data-form-error[^>]*>That name is taken\./);
  });

  it("success redirects: 303 for plain forms, HX-Redirect for htmx", async () => {
    const { h, received } = await setup();
    const plain = await h.request("/fixture/form", form({ name: "web", size: "small" }));
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe("/fixture/page");
    expect(plain.headers.get("hx-redirect")).toBeNull();

    const htmx = await h.request(
      "/fixture/form",
      form({ name: "web", size: "small" }, { ...PARTIAL, "x-csrf-token": CSRF_TOKEN }),
    );
    expect(htmx.status).toBe(204);
    expect(htmx.headers.get("hx-redirect")).toBe("/fixture/page");
    expect(htmx.headers.get("location")).toBeNull();
    expect(htmx.headers.get("vary")).toContain("HX-Request");
    expect(received.csrfHeaders).toEqual([undefined, CSRF_TOKEN]);
  });

  it("formFailure maps input errors to fields and leaves other errors alone", () => {
    const failed = formFailure(
      new ServiceError("VALIDATION", "Check the fields.", [
        { in: "form", field: "name", code: "too_small", message: "Too short." },
        { in: "form", field: "name", code: "other", message: "Second message is dropped." },
        { in: "query", field: "page", code: "invalid", message: "Not a number." },
      ]),
      { name: "" },
    );
    expect(failed?.status).toBe(422);
    expect(failed?.state.errors).toEqual({ name: "Too short." });
    expect(failed?.state.formError).toContain("page: Not a number.");
    const problem = formFailure(
      new ProblemError({
        code: "validation_failed",
        detail: "Bad.",
        errors: [{ in: "body", field: "size", code: "x", message: "Pick one." }],
      }),
      {},
    );
    expect(problem?.state).toEqual({ values: {}, errors: { size: "Pick one." } });
    expect(formFailure(new ServiceError("FORBIDDEN", "No."), {})).toBeUndefined();
    expect(formFailure(new Error("boom"), {})).toBeUndefined();
  });
});

describe("flash messages", () => {
  it("are set by an action, shown once (escaped), then gone", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/form", form({ name: "<i>web</i>", size: "small" }));
    expect(res.status).toBe(303);
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith("strato_flash="));
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\//);
    const cookie = cookiePair(res, "strato_flash");
    expect(cookie).toBeDefined();

    const next = await h.request("/fixture/page", {
      headers: { ...HTML, cookie: cookie ?? "" },
    });
    const html = await next.text();
    expect(html).toMatch(/data-flash="success"[^>]*>Created &lt;i&gt;web&lt;\/i&gt;\./);
    expect(html).not.toContain("<i>web</i>");
    // Shown once: the response clears the cookie.
    expect(next.headers.getSetCookie().some((c) => /^strato_flash=;.*Max-Age=0/i.test(c))).toBe(
      true,
    );

    const after = await h.request("/fixture/page", { headers: HTML });
    expect(await after.text()).not.toContain("data-flash=");
  });

  it("ignores a forged or malformed flash cookie", async () => {
    const { h } = await setup();
    for (const value of ["not-json", encodeURIComponent('[{"kind":"evil","message":"x"}]')]) {
      const html = await (
        await h.request("/fixture/page", { headers: { ...HTML, cookie: `strato_flash=${value}` } })
      ).text();
      expect(html).not.toContain("data-flash=");
    }
  });
});

describe("errors for people vs problem+json for the API", () => {
  it("a page request gets an HTML error page with the same status and code", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/conflict", { headers: HTML });
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("<html");
    expect(html).toContain('data-problem-code="conflict"');
    expect(html).toContain("The VM is being deleted.");
    expect(html).toContain(res.headers.get("x-request-id") ?? "missing");
  });

  it("an htmx request gets the error panel fragment, retargeted to the flash region", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/invalid", { headers: PARTIAL });
    expect(res.status).toBe(422);
    expect(res.headers.get("hx-retarget")).toBe("#flash-region");
    const html = await res.text();
    expect(html).not.toContain("<html");
    expect(html).toContain('data-problem-code="validation_failed"');
    expect(html).toMatch(/<li data-field="limit">.*At most 100\./);
  });

  it("the API keeps problem+json even when the client accepts HTML", async () => {
    const { h } = await setup();
    const res = await h.request("/api/v1/fixture-conflict", { headers: PARTIAL });
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({ code: "conflict" });
  });

  it("clients that do not ask for HTML keep problem+json on pages too", async () => {
    const { h } = await setup();
    const res = await h.request("/fixture/conflict");
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  it("unknown pages are an HTML 404; unexpected errors an HTML 500 without internals", async () => {
    const { h } = await setup();
    const missing = await h.request("/no/such/page", { headers: HTML });
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('data-problem-code="not_found"');
    const boom = await h.request("/fixture/boom", { headers: HTML });
    expect(boom.status).toBe(500);
    const html = await boom.text();
    expect(html).toContain('data-problem-code="internal_error"');
    expect(html).not.toContain("hunter2");
    expect(h.logs.entries.some((e) => e.message === "unhandled error")).toBe(true);
    const api = await h.request("/api/v1/nope", { headers: HTML });
    expect(api.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("assets", () => {
  it("the page links a hashed stylesheet that exists and has the classes templates use", async () => {
    const { h } = await setup();
    const html = await (await h.request("/fixture/page", { headers: HTML })).text();
    const href = /<link rel="stylesheet" href="(\/static\/build\/app\.[0-9a-f]{16}\.css)"/.exec(
      html,
    )?.[1];
    expect(href).toBeDefined();
    const file = join(root, "public", href ?? "");
    expect(existsSync(file)).toBe(true);
    const css = readFileSync(file, "utf8");
    for (const cls of [".md\\:hidden", ".bg-indigo-600", ".sr-only", ".htmx-indicator"]) {
      expect(css).toContain(cls);
    }
    expect(css).not.toContain("\n  "); // minified

    const served = await h.request(href ?? "");
    expect(served.status).toBe(200);
    expect(served.headers.get("content-type")).toMatch(/text\/css/);

    // htmx, app.js and the WebAuthn browser bundle come from our origin too.
    for (const src of html.matchAll(/<script src="([^"]+)"/g)) {
      expect(src[1]).toMatch(/^\/static\//);
      expect((await h.request(src[1] ?? "")).status).toBe(200);
    }
  });

  it("_headers makes hashed builds immutable on Workers", () => {
    const headers = readFileSync(join(root, "public/_headers"), "utf8");
    expect(headers).toMatch(
      /\/static\/build\/\*\n\s+Cache-Control: public, max-age=31536000, immutable/,
    );
  });
});
