import type { Child } from "hono/jsx";
import { cx } from "./cx";

export type FieldOption = { value: string; label: string; disabled?: boolean };

type Common = {
  /** The form field name; also the key of its error in `FormState.errors`. */
  name: string;
  label: string;
  /** Defaults to `field-<name>`. */
  id?: string;
  /** A server-side error for this field: shown under it and marks it aria-invalid. */
  error?: string | undefined;
  /** Help text under the field (referenced by aria-describedby). */
  hint?: Child;
  required?: boolean;
  disabled?: boolean;
  class?: string;
  /** Extra attributes for the control (`maxlength`, `pattern`, `hx-*`, ...). */
  attrs?: Record<string, string>;
};

export type InputFieldProps = Common & {
  as?: "input";
  type?: "text" | "email" | "password" | "number" | "url" | "search" | "tel" | "date" | "hidden";
  value?: string | undefined;
  placeholder?: string;
  autocomplete?: string;
};

export type SelectFieldProps = Common & {
  as: "select";
  options: FieldOption[];
  value?: string | undefined;
};

export type TextareaFieldProps = Common & {
  as: "textarea";
  value?: string | undefined;
  rows?: number;
  placeholder?: string;
};

export type FieldProps = InputFieldProps | SelectFieldProps | TextareaFieldProps;

const CONTROL =
  "block w-full rounded-md border-0 px-3 py-1.5 text-gray-900 shadow-sm ring-1 ring-inset " +
  "placeholder:text-gray-400 focus:ring-2 focus:ring-inset sm:text-sm sm:leading-6 " +
  "disabled:cursor-not-allowed disabled:bg-gray-50 disabled:text-gray-500";
const OK = "ring-gray-300 focus:ring-indigo-600";
const INVALID = "ring-red-400 text-red-900 focus:ring-red-600";

/** Ids the field's parts use: the control, its hint and its error message. */
export function fieldIds(props: { name: string; id?: string }) {
  const id = props.id ?? `field-${props.name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  return { id, hint: `${id}-hint`, error: `${id}-error` };
}

/**
 * A labelled form control with its hint and inline error. The error is tied to the control with
 * aria-describedby and aria-invalid, so screen readers announce it with the field.
 */
export function Field(props: FieldProps) {
  const ids = fieldIds(props);
  const describedBy = [props.hint ? ids.hint : "", props.error ? ids.error : ""]
    .filter(Boolean)
    .join(" ");
  const control = {
    ...props.attrs,
    id: ids.id,
    name: props.name,
    required: props.required,
    disabled: props.disabled,
    "aria-invalid": props.error ? "true" : undefined,
    "aria-describedby": describedBy || undefined,
    class: cx(CONTROL, props.error ? INVALID : OK),
  };
  return (
    <div class={cx("space-y-1", props.class)} data-field={props.name}>
      <label for={ids.id} class="block text-sm font-medium leading-6 text-gray-900">
        {props.label}
        {props.required ? (
          <span class="text-red-600" aria-hidden="true">
            {" *"}
          </span>
        ) : null}
      </label>
      {renderControl(props, control)}
      {props.hint ? (
        <p id={ids.hint} class="text-sm text-gray-500">
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p id={ids.error} class="text-sm text-red-600" data-field-error={props.name}>
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

function renderControl(props: FieldProps, control: Record<string, unknown>) {
  if (props.as === "select") {
    return (
      <select {...control}>
        {props.options.map((o) => (
          <option value={o.value} selected={o.value === props.value} disabled={o.disabled}>
            {o.label}
          </option>
        ))}
      </select>
    );
  }
  if (props.as === "textarea") {
    return (
      <textarea {...control} rows={props.rows ?? 3} placeholder={props.placeholder}>
        {props.value ?? ""}
      </textarea>
    );
  }
  return (
    <input
      {...control}
      type={props.type ?? "text"}
      value={props.value}
      placeholder={props.placeholder}
      autocomplete={props.autocomplete}
    />
  );
}
