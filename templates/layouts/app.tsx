import type { Child } from "hono/jsx";
import { type Flash, FlashMessages } from "../components/flash";
import { DEFAULT_NAV, NavLinks, type NavSection } from "../components/nav";
import { Switcher, type SwitcherProps } from "../components/switcher";
import { UserMenu } from "../components/user-menu";
import { Document } from "./document";

/** What a signed-in page tells the layout; `renderPage` adds title, body and flashes. */
export type AppLayoutProps = {
  user: { name: string; email?: string | undefined };
  csrfToken: string;
  /** Defaults to DEFAULT_NAV. */
  nav?: NavSection[];
  /** The path whose nav item is highlighted; `renderPage` defaults it to the request path. */
  currentPath?: string | undefined;
  /** Omit when the user has no organization yet. */
  switcher?: SwitcherProps | undefined;
  /** Where the sign-out form posts; defaults to "/sign-out". */
  signOutAction?: string;
  scripts?: readonly string[] | undefined;
};

export type AppLayoutFullProps = AppLayoutProps & {
  title: string;
  flashes?: readonly Flash[];
  children: Child;
};

/**
 * The console around every signed-in page: a sidebar on wide screens, a disclosure menu on narrow
 * ones (a <details>, so it works without JS), the org/project switcher, the user menu with
 * sign-out, flash messages and the page in <main>.
 */
export function AppLayout(props: AppLayoutFullProps) {
  const nav = props.nav ?? DEFAULT_NAV;
  return (
    <Document title={props.title} csrfToken={props.csrfToken} scripts={props.scripts}>
      <a
        href="#main"
        class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2"
      >
        Skip to content
      </a>
      <div class="min-h-full md:flex">
        <aside class="hidden border-r border-gray-200 bg-white md:block md:w-60 md:shrink-0">
          <div class="flex h-14 items-center px-4">
            <a href="/" class="text-lg font-bold tracking-tight text-indigo-700">
              Strato
            </a>
          </div>
          <nav aria-label="Main" class="px-2 pb-6" data-nav="sidebar">
            <NavLinks sections={nav} current={props.currentPath} />
          </nav>
        </aside>
        <div class="flex min-w-0 flex-1 flex-col">
          <header class="relative border-b border-gray-200 bg-white">
            <div class="flex h-14 items-center gap-2 px-4 sm:px-6">
              <details class="md:hidden" data-menu="mobile-nav">
                <summary class="whitespace-nowrap rounded-md px-2 py-1.5 text-sm font-medium text-gray-700 hover:bg-gray-100">
                  <span aria-hidden="true">☰ </span>Menu
                </summary>
                <nav
                  aria-label="Main"
                  class="absolute inset-x-0 top-full z-30 border-b border-gray-200 bg-white px-4 py-4 shadow-lg"
                  data-nav="mobile"
                >
                  <NavLinks sections={nav} current={props.currentPath} />
                </nav>
              </details>
              <a
                href="/"
                class="hidden text-lg font-bold tracking-tight text-indigo-700 sm:block md:hidden"
              >
                Strato
              </a>
              {props.switcher ? <Switcher {...props.switcher} /> : null}
              <div class="ml-auto shrink-0">
                <UserMenu
                  user={props.user}
                  csrfToken={props.csrfToken}
                  signOutAction={props.signOutAction ?? "/sign-out"}
                />
              </div>
            </div>
          </header>
          <div id="flash-region" class="px-4 pt-4 empty:hidden sm:px-6 lg:px-8" aria-live="polite">
            <FlashMessages flashes={props.flashes ?? []} />
          </div>
          <main id="main" class="flex-1 px-4 py-6 sm:px-6 lg:px-8">
            {props.children}
          </main>
        </div>
      </div>
    </Document>
  );
}
