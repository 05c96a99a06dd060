import type { Child } from "hono/jsx";
import { type Flash, FlashMessages } from "../components/flash";
import { Document } from "./document";

export type BareLayoutProps = {
  title: string;
  csrfToken?: string | undefined;
  flashes?: readonly Flash[];
  scripts?: readonly string[] | undefined;
  children: Child;
};

/** Signed-out pages (sign-in, set-up, errors): the brand and a centred column, no navigation. */
export function BareLayout(props: BareLayoutProps) {
  return (
    <Document title={props.title} csrfToken={props.csrfToken} scripts={props.scripts}>
      <div class="flex min-h-full flex-col items-center px-4 py-12 sm:px-6">
        <header class="mb-8">
          <a href="/" class="text-2xl font-bold tracking-tight text-indigo-700">
            Strato
          </a>
        </header>
        <main id="main" class="w-full max-w-md">
          <div id="flash-region" class="mb-4 empty:hidden" aria-live="polite">
            <FlashMessages flashes={props.flashes ?? []} />
          </div>
          {props.children}
        </main>
      </div>
    </Document>
  );
}
