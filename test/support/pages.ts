import { expect } from "vitest";
import type { TestUser } from "./actors";
import type { Harness } from "./harness";

/** A form post as the browser sends it (urlencoded, with the CSRF field); `htmx` as htmx sends it. */
export function post(user: TestUser, path: string, fields: Record<string, string>, htmx = false) {
  const body = new URLSearchParams({ _csrf: user.csrfToken, ...fields });
  return user.request(path, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      accept: "text/html",
      ...(htmx ? { "hx-request": "true", "hx-request-type": "partial" } : {}),
    },
    body: body.toString(),
  });
}

/** A GET as htmx makes it when swapping a fragment. */
export function partial(user: TestUser, path: string) {
  return user.request(path, { headers: { "hx-request": "true", "hx-request-type": "partial" } });
}

/** A page request as a browser makes it (errors come back as HTML pages). */
export function get(user: TestUser, path: string) {
  return user.request(path, { headers: { accept: "text/html" } });
}

/** The page a redirect leads to, with the flash cookie the redirecting response left. */
export function follow(h: Harness, user: TestUser, res: Response, location: string) {
  const flash = res.headers.getSetCookie().find((c) => c.startsWith("strato_flash="));
  return h.request(location, {
    headers: { accept: "text/html", cookie: `${user.cookie}; ${flash?.split(";")[0] ?? ""}` },
  });
}

/** The body of an HTML answer with this status (the start of the body is shown when it differs). */
export async function html(res: Response, status = 200): Promise<string> {
  const text = await res.text();
  expect(res.status, text.slice(0, 2000)).toBe(status);
  return text;
}
