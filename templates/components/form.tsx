import type { Child } from "hono/jsx";
import { Alert } from "./alert";
import { cx } from "./cx";

/**
 * The form field that carries the CSRF token on plain (non-htmx) form posts; the same name
 * src/http/csrf.ts checks (htmx requests send the X-CSRF-Token header, see public/static/js/app.js).
 */
export const CSRF_FIELD = "_csrf";

/** The hidden CSRF input every state-changing form needs. */
export function CsrfInput(props: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={props.token} />;
}

/**
 * Submitted values, field errors by field name and an error for the form as a whole: what a form
 * template needs to re-render itself after a failed submit (see src/web/forms.ts).
 */
export type FormState = {
  values: Record<string, string>;
  errors: Record<string, string>;
  formError?: string | undefined;
};

export type FormProps = {
  action: string;
  /** "post" (default) includes the CSRF input; "get" forms (filters, search) do not need one. */
  method?: "post" | "get";
  csrfToken?: string;
  /**
   * Submit with htmx and swap the response over this form (its 422 re-render with inline errors,
   * or a fragment); without JS the same form posts normally. Defaults to true for "post".
   */
  htmx?: boolean;
  /** A CSS selector to swap into instead of the form itself (with innerHTML). */
  target?: string;
  /** Skip the browser's own validation, so the server's messages show. */
  noValidate?: boolean;
  id?: string;
  class?: string;
  attrs?: Record<string, string>;
  /** A summary error shown above the fields (e.g. `FormState.formError`). */
  error?: string | undefined;
  children: Child;
};

/** A form with its CSRF token and, by default, htmx submission. */
export function Form(props: FormProps) {
  const method = props.method ?? "post";
  const htmx = props.htmx ?? method === "post";
  const hx: Record<string, string> = htmx
    ? {
        [`hx-${method}`]: props.action,
        "hx-target": props.target ?? "this",
        "hx-swap": props.target ? "innerHTML" : "outerHTML",
      }
    : {};
  return (
    <form
      {...props.attrs}
      {...hx}
      id={props.id}
      method={method}
      action={props.action}
      novalidate={props.noValidate}
      class={cx("space-y-4", props.class)}
    >
      {method === "post" && props.csrfToken !== undefined ? (
        <CsrfInput token={props.csrfToken} />
      ) : null}
      {props.error ? <FormError message={props.error} /> : null}
      {props.children}
    </form>
  );
}

/** An error about the whole form (not one field), e.g. "That name is taken". */
export function FormError(props: { message: string }) {
  return (
    <Alert tone="error" attrs={{ "data-form-error": "" }}>
      {props.message}
    </Alert>
  );
}

/** The row of buttons at the end of a form. */
export function FormActions(props: { children: Child }) {
  return <div class="flex flex-wrap items-center gap-3 pt-2">{props.children}</div>;
}
