import { secureHeaders } from "hono/secure-headers";

/**
 * The default Content-Security-Policy: everything from our own origin only. Scripts and styles are
 * files under `/static` (vendored, never from a CDN), so no inline script or style is needed. A route that needs a
 * different policy sets its own header, which the middleware below leaves alone.
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
