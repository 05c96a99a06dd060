import type { Child } from "hono/jsx";
import { cx } from "./cx";

export type ButtonVariant = "primary" | "secondary" | "danger" | "ghost";
export type ButtonSize = "sm" | "md";

const VARIANT: Record<ButtonVariant, string> = {
  primary: "bg-indigo-600 text-white hover:bg-indigo-500 focus-visible:outline-indigo-600",
  secondary:
    "bg-white text-gray-900 ring-1 ring-inset ring-gray-300 hover:bg-gray-50 focus-visible:outline-indigo-600",
  danger: "bg-red-600 text-white hover:bg-red-500 focus-visible:outline-red-600",
  ghost: "text-gray-700 hover:bg-gray-100 focus-visible:outline-indigo-600",
};

const SIZE: Record<ButtonSize, string> = {
  sm: "px-2.5 py-1.5 text-xs",
  md: "px-3.5 py-2 text-sm",
};

/** The classes of a button, for elements that must look like one (links, summaries). */
export function buttonClass(variant: ButtonVariant = "primary", size: ButtonSize = "md"): string {
  return cx(
    "inline-flex items-center justify-center gap-2 rounded-md font-semibold shadow-sm",
    "focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2",
    "disabled:cursor-not-allowed disabled:opacity-50",
    VARIANT[variant],
    SIZE[size],
  );
}

export type ButtonProps = {
  children: Child;
  type?: "submit" | "button" | "reset";
  variant?: ButtonVariant;
  size?: ButtonSize;
  name?: string;
  value?: string;
  disabled?: boolean;
  id?: string;
  class?: string;
  /** Extra attributes, e.g. `{ "hx-post": "/vms/1/stop", "hx-confirm": "Stop it?" }`. */
  attrs?: Record<string, string>;
};

/** A button; `type` defaults to "submit" as in HTML, so say "button" for ones that only run htmx. */
export function Button(props: ButtonProps) {
  return (
    <button
      {...props.attrs}
      type={props.type ?? "submit"}
      class={cx(buttonClass(props.variant, props.size), props.class)}
      name={props.name}
      value={props.value}
      disabled={props.disabled}
      id={props.id}
    >
      {props.children}
    </button>
  );
}

export type ButtonLinkProps = {
  href: string;
  children: Child;
  variant?: ButtonVariant;
  size?: ButtonSize;
  class?: string;
  attrs?: Record<string, string>;
};

/** A link that looks like a button (navigation, not an action). */
export function ButtonLink(props: ButtonLinkProps) {
  return (
    <a
      {...props.attrs}
      href={props.href}
      class={cx(buttonClass(props.variant, props.size), props.class)}
    >
      {props.children}
    </a>
  );
}
