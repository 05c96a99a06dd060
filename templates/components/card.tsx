import type { Child } from "hono/jsx";
import { cx } from "./cx";

export type CardProps = {
  title?: string;
  /** Buttons or links shown next to the title. */
  actions?: Child;
  children?: Child;
  class?: string;
  id?: string;
};

/** A white panel with an optional heading row. */
export function Card(props: CardProps) {
  return (
    <section
      id={props.id}
      class={cx("rounded-lg bg-white shadow-sm ring-1 ring-gray-200", props.class)}
    >
      {props.title || props.actions ? (
        <div class="flex flex-wrap items-center justify-between gap-2 border-b border-gray-200 px-4 py-3 sm:px-6">
          {props.title ? (
            <h2 class="text-base font-semibold text-gray-900">{props.title}</h2>
          ) : null}
          {props.actions ? <div class="flex gap-2">{props.actions}</div> : null}
        </div>
      ) : null}
      <div class="px-4 py-4 sm:px-6">{props.children}</div>
    </section>
  );
}

/** The heading of a page: its h1, a description and primary actions. */
export function PageHeader(props: { title: string; description?: Child; actions?: Child }) {
  return (
    <div class="mb-6 flex flex-wrap items-start justify-between gap-4">
      <div class="min-w-0">
        <h1 class="text-2xl font-bold tracking-tight text-gray-900">{props.title}</h1>
        {props.description ? <p class="mt-1 text-sm text-gray-600">{props.description}</p> : null}
      </div>
      {props.actions ? <div class="flex flex-wrap gap-2">{props.actions}</div> : null}
    </div>
  );
}
