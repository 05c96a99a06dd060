import { CsrfInput } from "./form";

export type UserMenuProps = {
  user: { name: string; email?: string | undefined };
  csrfToken: string;
  /** Where the sign-out form posts. */
  signOutAction: string;
  /** Links in the menu; defaults to the account pages. */
  links?: { label: string; href: string }[];
};

const ACCOUNT_LINKS = [
  { label: "Passkeys", href: "/account/passkeys" },
  { label: "Sessions", href: "/account/sessions" },
  { label: "API tokens", href: "/account/tokens" },
];

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : [parts[0]];
  return letters.map((p) => p?.[0]?.toUpperCase() ?? "").join("") || "?";
}

/** The signed-in user's menu: who, account links and sign-out (a POST form with its CSRF token). */
export function UserMenu(props: UserMenuProps) {
  return (
    <details class="relative" data-menu="user">
      <summary class="flex items-center gap-2 rounded-full p-1 hover:bg-gray-100">
        <span
          class="flex h-8 w-8 items-center justify-center rounded-full bg-indigo-600 text-xs font-semibold text-white"
          aria-hidden="true"
        >
          {initials(props.user.name)}
        </span>
        <span class="hidden text-sm font-medium text-gray-900 sm:inline">{props.user.name}</span>
        <span class="sr-only sm:hidden">Account menu for {props.user.name}</span>
      </summary>
      <div class="absolute right-0 z-30 mt-2 w-56 rounded-md bg-white py-1 shadow-lg ring-1 ring-black/5">
        <div class="border-b border-gray-100 px-4 py-2">
          <p class="truncate text-sm font-medium text-gray-900">{props.user.name}</p>
          {props.user.email ? (
            <p class="truncate text-xs text-gray-500">{props.user.email}</p>
          ) : null}
        </div>
        <ul class="py-1">
          {(props.links ?? ACCOUNT_LINKS).map((l) => (
            <li>
              <a href={l.href} class="block px-4 py-2 text-sm text-gray-700 hover:bg-gray-100">
                {l.label}
              </a>
            </li>
          ))}
        </ul>
        <form method="post" action={props.signOutAction} class="border-t border-gray-100 pt-1">
          <CsrfInput token={props.csrfToken} />
          <button
            type="submit"
            class="block w-full px-4 py-2 text-left text-sm text-gray-700 hover:bg-gray-100"
          >
            Sign out
          </button>
        </form>
      </div>
    </details>
  );
}
