// Passkey ceremonies for forms marked `data-passkey` ("sign-up", "sign-in" or "add"):
//   data-options-url  where the form's fields are POSTed (JSON) to get WebAuthn options
//   data-finish-url   where the authenticator's answer goes
//   data-next         where to go afterwards
// Uses @simplewebauthn/browser (served from our origin); the server's problem+json errors are
// shown next to their fields, and a cancelled browser prompt gets a plain explanation.
(() => {
  const webauthn = window.SimpleWebAuthnBrowser;

  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

  async function postJson(url, body) {
    const headers = { "content-type": "application/json", accept: "application/json" };
    const token = csrfToken();
    if (token) headers["x-csrf-token"] = token;
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let json = null;
    try {
      json = await res.json();
    } catch {
      json = null;
    }
    return { ok: res.ok, status: res.status, json };
  }

  function formMessage(form, text) {
    let box = form.querySelector("[data-passkey-message]");
    if (!box) {
      box = document.createElement("div");
      box.setAttribute("data-passkey-message", "");
      box.setAttribute("role", "alert");
      box.className = "mb-4 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800";
      form.prepend(box);
    }
    box.textContent = text;
  }

  function clearErrors(form) {
    form.querySelector("[data-passkey-message]")?.remove();
    for (const el of form.querySelectorAll("[data-passkey-error]")) el.remove();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  function fieldError(form, name, message) {
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!control) return false;
    const id = `${control.id || `field-${name}`}-error`;
    const p = document.createElement("p");
    p.id = id;
    p.setAttribute("data-passkey-error", "");
    p.className = "text-sm text-red-600";
    p.textContent = message;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", id);
    control.insertAdjacentElement("afterend", p);
    return true;
  }

  function showProblem(form, problem, status) {
    if (!problem || typeof problem !== "object") {
      formMessage(form, `The request failed (${status}). Try again.`);
      return;
    }
    let shown = false;
    for (const e of problem.errors ?? []) {
      if (e.field && fieldError(form, e.field, e.message)) shown = true;
    }
    if (!shown || !problem.errors) formMessage(form, problem.detail ?? problem.title ?? "Failed.");
  }

  function ceremonyFailure(form, err) {
    if (err && err.name === "NotAllowedError") {
      formMessage(form, "The passkey prompt was cancelled or timed out. Try again when ready.");
    } else if (err && err.name === "InvalidStateError") {
      formMessage(form, "This authenticator already holds a passkey for this account.");
    } else {
      formMessage(form, `Your browser could not use a passkey: ${err?.message ?? err}`);
    }
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target instanceof HTMLFormElement ? event.target : null;
    if (!form?.dataset.passkey) return;
    event.preventDefault();
    clearErrors(form);
    if (!webauthn?.browserSupportsWebAuthn()) {
      formMessage(form, "This browser does not support passkeys.");
      return;
    }
    const button = form.querySelector('button[type="submit"], button:not([type])');
    button?.setAttribute("disabled", "");
    try {
      const fields = {};
      for (const [name, value] of new FormData(form)) {
        if (name !== "_csrf" && typeof value === "string" && value !== "") fields[name] = value;
      }
      const { name: passkeyName, ...optionFields } = fields;
      const start = await postJson(
        form.dataset.optionsUrl,
        form.dataset.passkey === "add" ? {} : optionFields,
      );
      if (!start.ok) return showProblem(form, start.json, start.status);
      const { ceremonyId, options } = start.json;
      let credential;
      try {
        credential =
          form.dataset.passkey === "sign-in"
            ? await webauthn.startAuthentication({ optionsJSON: options })
            : await webauthn.startRegistration({ optionsJSON: options });
      } catch (err) {
        return ceremonyFailure(form, err);
      }
      const body = { ceremonyId, credential };
      if (form.dataset.passkey === "add" && passkeyName) body.name = passkeyName;
      const done = await postJson(form.dataset.finishUrl, body);
      if (!done.ok) return showProblem(form, done.json, done.status);
      window.location.assign(form.dataset.next || "/");
    } catch (err) {
      formMessage(form, `Something went wrong: ${err?.message ?? err}`);
    } finally {
      button?.removeAttribute("disabled");
    }
  });
})();
