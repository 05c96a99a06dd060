import type { Child } from "hono/jsx";
import type { FieldError } from "../../src/http/problem";
import { cx } from "./cx";

export type Tone = "info" | "success" | "warning" | "error";

const TONE: Record<Tone, string> = {
  info: "border-blue-200 bg-blue-50 text-blue-800",
  success: "border-green-200 bg-green-50 text-green-800",
  warning: "border-yellow-200 bg-yellow-50 text-yellow-800",
  error: "border-red-200 bg-red-50 text-red-800",
};

export type AlertProps = {
  tone: Tone;
  title?: string;
  children?: Child;
  class?: string;
  attrs?: Record<string, string>;
};

/** A message box. Errors are announced at once (role=alert), the rest politely (role=status). */
export function Alert(props: AlertProps) {
  return (
    <div
      {...props.attrs}
      role={props.tone === "error" ? "alert" : "status"}
      class={cx("rounded-md border p-3 text-sm", TONE[props.tone], props.class)}
    >
      {props.title ? (
        <>
          <p class="font-semibold">{props.title}</p>
          {props.children ? <div class="mt-1">{props.children}</div> : null}
        </>
      ) : (
        props.children
      )}
    </div>
  );
}

/** What a person needs to see of a problem document (RFC 9457 + our extensions). */
export type ProblemView = {
  status: number;
  code: string;
  title: string;
  detail: string;
  requestId?: string | undefined;
  errors?: FieldError[] | undefined;
};

/**
 * A problem rendered for people: title, detail, the invalid fields and the request id to quote.
 * `data-problem-code` carries the stable code for scripts and tests.
 */
export function ErrorPanel(props: { problem: ProblemView; class?: string }) {
  const p = props.problem;
  return (
    <div
      role="alert"
      class={cx("rounded-md border border-red-200 bg-red-50 p-4 text-sm text-red-800", props.class)}
      data-problem-code={p.code}
      data-status={String(p.status)}
    >
      <p class="font-semibold">{p.title}</p>
      <p class="mt-1">{p.detail}</p>
      {p.errors && p.errors.length > 0 ? (
        <ul class="mt-2 list-disc space-y-1 pl-5">
          {p.errors.map((e) => (
            <li data-field={e.field}>
              {e.field ? <span class="font-mono">{e.field}</span> : null}
              {e.field ? ": " : null}
              {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      {p.requestId ? (
        <p class="mt-2 text-xs text-red-700">
          Request id: <span class="font-mono">{p.requestId}</span>
        </p>
      ) : null}
    </div>
  );
}
