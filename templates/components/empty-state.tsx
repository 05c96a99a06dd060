import type { Child } from "hono/jsx";

/** What a list shows when it has nothing yet, with the action that fills it. */
export function EmptyState(props: { title: string; description?: Child; action?: Child }) {
  return (
    <div class="rounded-lg border-2 border-dashed border-gray-300 px-6 py-10 text-center">
      <p class="text-sm font-semibold text-gray-900">{props.title}</p>
      {props.description ? <p class="mt-1 text-sm text-gray-500">{props.description}</p> : null}
      {props.action ? <div class="mt-4 flex justify-center">{props.action}</div> : null}
    </div>
  );
}
