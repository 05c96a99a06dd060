import { cx } from "./cx";

export type NavItem = { label: string; href: string };
export type NavSection = { label?: string; items: NavItem[] };

/**
 * The console's sections. Org-scoped pages may live under other URLs later: pass your own
 * `nav` to the layout (e.g. built from this with different hrefs).
 */
export const DEFAULT_NAV: NavSection[] = [
  {
    items: [
      { label: "Dashboard", href: "/" },
      { label: "VMs", href: "/vms" },
      { label: "Hosts", href: "/hosts" },
      { label: "Images", href: "/images" },
    ],
  },
  {
    label: "Organization",
    items: [
      { label: "Projects and members", href: "/org" },
      { label: "New organization", href: "/orgs/new" },
    ],
  },
  {
    label: "Account",
    items: [
      { label: "Passkeys", href: "/account/passkeys" },
      { label: "Sessions", href: "/account/sessions" },
      { label: "API tokens", href: "/account/tokens" },
    ],
  },
  { items: [{ label: "Audit", href: "/audit" }] },
];

/** Links that point into the current organization once one is known. */
const ORG_PAGES: Record<string, (orgId: string) => string> = {
  "/org": (orgId) => `/orgs/${orgId}`,
  "/hosts": (orgId) => `/orgs/${orgId}/hosts`,
  "/images": (orgId) => `/orgs/${orgId}/images`,
  "/audit": (orgId) => `/orgs/${orgId}/audit`,
};

/**
 * DEFAULT_NAV with the organization's pages linked directly (without an organization, "/org",
 * "/hosts", "/images" and "/audit" still work: they redirect to the current one).
 */
export function consoleNav(currentOrgId: string | undefined): NavSection[] {
  if (currentOrgId === undefined) return DEFAULT_NAV;
  return DEFAULT_NAV.map((section) => ({
    ...section,
    items: section.items.map((item) => {
      const href = ORG_PAGES[item.href];
      return href ? { ...item, href: href(currentOrgId) } : item;
    }),
  }));
}

/** Whether `href` is the current page or a parent of it ("/vms" is active on "/vms/vm_1"). */
export function isActive(href: string, current: string | undefined): boolean {
  if (current === undefined) return false;
  if (href === current) return true;
  return href !== "/" && current.startsWith(`${href}/`);
}

/**
 * The one link to mark: the most specific one containing the current page ("/orgs/o/hosts" is
 * Hosts, not the organization's own page "/orgs/o").
 */
export function activeHref(
  sections: NavSection[],
  current: string | undefined,
): string | undefined {
  let best: string | undefined;
  for (const item of sections.flatMap((s) => s.items)) {
    if (isActive(item.href, current) && item.href.length > (best?.length ?? -1)) best = item.href;
  }
  return best;
}

/** The navigation links, grouped; used by the sidebar and by the mobile menu. */
export function NavLinks(props: { sections: NavSection[]; current?: string | undefined }) {
  const activeLink = activeHref(props.sections, props.current);
  return (
    <div class="space-y-5">
      {props.sections.map((section) => (
        <div>
          {section.label ? (
            <p class="px-2 text-xs font-semibold uppercase tracking-wide text-gray-500">
              {section.label}
            </p>
          ) : null}
          <ul class={cx("space-y-1", section.label && "mt-2")}>
            {section.items.map((item) => {
              const active = item.href === activeLink;
              return (
                <li>
                  <a
                    href={item.href}
                    aria-current={active ? "page" : undefined}
                    class={cx(
                      "block rounded-md px-2 py-1.5 text-sm font-medium",
                      active
                        ? "bg-indigo-50 text-indigo-700"
                        : "text-gray-700 hover:bg-gray-100 hover:text-gray-900",
                    )}
                  >
                    {item.label}
                  </a>
                </li>
              );
            })}
          </ul>
        </div>
      ))}
    </div>
  );
}
