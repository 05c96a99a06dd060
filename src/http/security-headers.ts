import { secureHeaders } from "hono/secure-headers";

/**
 * The default Content-Security-Policy: everything from our own origin only. htmx and its extensions
 * are served from `/static`, so no inline script is needed anywhere; a route that needs more (the API
 * reference's inline styles) sets its own header, which the middleware below leaves alone.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export function securityHeaders() {
  return secureHeaders({
    contentSecurityPolicy: CSP_DIRECTIVES,
    xFrameOptions: "DENY",
    referrerPolicy: "same-origin",
    // Responses may carry a route-specific CSP; keep it rather than overwriting with the default.
    overwrite: false,
  });
}

/** Serialises a CSP the same way for routes that need a variant of the default. */
export function cspHeader(directives: Record<string, string[]>): string {
  return Object.entries(directives)
    .map(
      ([name, values]) =>
        `${name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)} ${values.join(" ")}`,
    )
    .join("; ");
}
