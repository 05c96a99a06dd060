import type { Child } from "hono/jsx";

export type BadgeTone = "gray" | "green" | "yellow" | "red" | "blue" | "indigo";

const TONE: Record<BadgeTone, string> = {
  gray: "bg-gray-100 text-gray-700 ring-gray-500/20",
  green: "bg-green-50 text-green-700 ring-green-600/20",
  yellow: "bg-yellow-50 text-yellow-800 ring-yellow-600/20",
  red: "bg-red-50 text-red-700 ring-red-600/20",
  blue: "bg-blue-50 text-blue-700 ring-blue-700/10",
  indigo: "bg-indigo-50 text-indigo-700 ring-indigo-700/10",
};

/** A small status label (VM state, role, "revoked"). */
export function Badge(props: { tone?: BadgeTone; children: Child }) {
  return (
    <span
      class={`inline-flex items-center rounded-md px-2 py-1 text-xs font-medium ring-1 ring-inset ${TONE[props.tone ?? "gray"]}`}
    >
      {props.children}
    </span>
  );
}
