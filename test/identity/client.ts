import type { Harness } from "../support/harness";
import { type CeremonyOverrides, SoftwareAuthenticator } from "../support/webauthn";

/**
 * A browser as the passkey endpoints see it: a cookie jar, the CSRF token the server handed out,
 * our origin on every request, and a software authenticator.
 */
export class TestBrowser {
  cookie: string | undefined;
  csrfToken: string | undefined;
  readonly authenticator: SoftwareAuthenticator;

  constructor(
    private readonly h: Harness,
    options: { format?: "none" | "packed"; ip?: string } = {},
  ) {
    this.authenticator = new SoftwareAuthenticator(h.deps.config.webauthn.origin, options.format);
    this.ip = options.ip ?? "203.0.113.7";
  }

  private readonly ip: string;

  async request(path: string, init: { method?: string; json?: unknown } = {}): Promise<Response> {
    const headers = new Headers({
      origin: this.h.deps.config.webauthn.origin,
      "x-test-ip": this.ip,
    });
    if (this.cookie) headers.set("cookie", this.cookie);
    if (this.csrfToken) headers.set("x-csrf-token", this.csrfToken);
    if (init.json !== undefined) headers.set("content-type", "application/json");
    const res = await this.h.request(path, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers,
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    });
    const set = res.headers.get("set-cookie");
    if (set) {
      const [pair] = set.split(";");
      this.cookie = pair?.endsWith("=") ? undefined : pair;
    }
    return res;
  }

  /** Registers a new account with this browser's authenticator; returns the final response. */
  async signUp(
    body: { email: string; displayName?: string; setupCode?: string; invitation?: string },
    overrides: CeremonyOverrides = {},
  ): Promise<Response> {
    const started = await this.request("/api/v1/auth/sign-up/options", {
      json: { displayName: "Test Person", ...body },
    });
    if (started.status !== 200) return started;
    const { ceremonyId, options } = (await started.json()) as CeremonyStart;
    const credential = await this.authenticator.create(options as never, overrides);
    return this.finish("/api/v1/auth/sign-up", { ceremonyId, credential });
  }

  async signIn(email?: string, overrides: CeremonyOverrides = {}): Promise<Response> {
    const started = await this.request("/api/v1/auth/sign-in/options", {
      json: email === undefined ? {} : { email },
    });
    if (started.status !== 200) return started;
    const { ceremonyId, options } = (await started.json()) as CeremonyStart;
    const credential = await this.authenticator.get(options as never, overrides);
    return this.finish("/api/v1/auth/sign-in", { ceremonyId, credential });
  }

  private async finish(path: string, json: unknown): Promise<Response> {
    const res = await this.request(path, { json });
    if (res.ok) {
      const body = (await res.clone().json()) as { csrfToken: string };
      this.csrfToken = body.csrfToken;
    }
    return res;
  }
}

export type CeremonyStart = { ceremonyId: string; options: Record<string, unknown> };
