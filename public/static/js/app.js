// The console's only script besides htmx (loaded right after it). No inline scripts exist: the
// CSP is `script-src 'self'`. Names below are htmx 4's (colon-separated events, ctx in detail).
(() => {
  const htmx = window.htmx;
  if (!htmx) return;

  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

  // Every htmx request carries the CSRF token in a header (forms also send a hidden _csrf field).
  document.addEventListener("htmx:config:request", (event) => {
    const token = csrfToken();
    if (token) event.detail.ctx.request.headers["X-CSRF-Token"] = token;
  });

  // htmx 4 swaps 4xx/5xx responses into the target (only 204 and 304 are not swapped). The server
  // answers page requests with HTML fragments for errors (field errors, problem panels), which is
  // what we want swapped. Anything that is not HTML (e.g. problem+json) must not land in the
  // page as text: skip the swap and show a generic alert instead.
  document.addEventListener("htmx:after:request", (event) => {
    const ctx = event.detail.ctx;
    const type = ctx.response?.headers?.get("content-type") ?? "";
    if (ctx.response && ctx.response.status >= 400 && !type.startsWith("text/html")) {
      ctx.swap = "none";
      showError(`The request failed (${ctx.response.status}).`);
    }
    // A live view's stream request answered with something other than a stream (a proxy's error
    // page): keep the view as it is; polling goes on.
    if (isLiveStream(event.target)) ctx.swap = "none";
  });

  // Network failures and timeouts: nothing to swap, so tell the user. A live view's stream that
  // cannot connect is not worth an alert: its polling fallback carries on (and reports failures).
  document.addEventListener("htmx:error", (event) => {
    if (isLiveStream(event.target)) return;
    if (event.detail?.error) showError("The server could not be reached. Try again.");
  });

  // Live views: hx-sse.js streams their fragments into a [data-live-stream] region; htmx polling
  // inside it ([data-poll-fallback]) is the fallback and runs only while the stream is not open
  // (not yet connected, reconnecting after an error, extension missing).
  const setStream = (state) => (event) => {
    if (isLiveStream(event.target)) event.target.dataset.liveStream = state;
  };
  document.addEventListener("htmx:sse:after:connection", setStream("open"));
  document.addEventListener("htmx:sse:error", setStream("closed"));
  document.addEventListener("htmx:sse:close", setStream("closed"));
  document.addEventListener("htmx:before:request", (event) => {
    const source = event.target;
    if (!source?.hasAttribute?.("data-poll-fallback")) return;
    if (source.closest("[data-live-stream]")?.dataset.liveStream === "open") event.preventDefault();
  });
  // htmx processes the page from a timer queued when it loads; should that run before hx-sse.js
  // has loaded, the extension never saw the regions. This timer runs after htmx's, and connects
  // the regions the extension has not taken up (it marks them data-htmx-powered).
  setTimeout(() => {
    for (const region of document.querySelectorAll("[data-live-stream]")) {
      if (!region.hasAttribute("data-htmx-powered")) htmx.process(region);
    }
  });

  // Menus are <details> (they work without this script); with it, a click elsewhere or Escape
  // closes them like any dropdown.
  const closeMenus = (except) => {
    for (const menu of document.querySelectorAll("details[data-menu][open]")) {
      if (!except || !menu.contains(except)) menu.open = false;
    }
  };
  document.addEventListener("click", (event) => closeMenus(event.target));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeMenus(null);
  });

  function isLiveStream(element) {
    return element?.dataset?.liveStream !== undefined;
  }

  function showError(message) {
    const region = document.getElementById("flash-region");
    if (!region) return;
    const alert = document.createElement("div");
    alert.setAttribute("role", "alert");
    alert.className = "rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800";
    alert.textContent = message;
    region.replaceChildren(alert);
  }
})();
