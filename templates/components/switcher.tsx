import { cx } from "./cx";

/** One organization or project the user can switch to; `href` is where switching goes. */
export type SwitcherOption = { id: string; name: string; href: string };

export type SwitcherProps = {
  orgs: SwitcherOption[];
  currentOrgId?: string | undefined;
  /** Projects of the current organization. */
  projects?: SwitcherOption[];
  currentProjectId?: string | undefined;
  /** Links at the bottom, e.g. "New organization". */
  createOrgHref?: string;
  createProjectHref?: string;
};

const MENU =
  "absolute left-0 z-30 mt-2 w-72 max-w-[calc(100vw-2rem)] rounded-md bg-white p-2 shadow-lg ring-1 ring-black/5";

/**
 * The organization/project switcher: a disclosure with plain links, so it works without JS (the
 * server decides what switching means, e.g. `/orgs/<id>` sets the current org).
 */
export function Switcher(props: SwitcherProps) {
  const org = props.orgs.find((o) => o.id === props.currentOrgId);
  const project = props.projects?.find((p) => p.id === props.currentProjectId);
  return (
    <details class="relative min-w-0" data-menu="switcher">
      <summary class="flex min-w-0 max-w-xs items-center gap-1 rounded-md px-2 py-1.5 text-sm font-medium text-gray-900 hover:bg-gray-100">
        <span class="sr-only">Switch organization or project. Current: </span>
        <span class="truncate">{org?.name ?? "No organization"}</span>
        {project ? (
          <>
            <span class="text-gray-400" aria-hidden="true">
              /
            </span>
            <span class="truncate">{project.name}</span>
          </>
        ) : null}
        <span class="text-gray-400" aria-hidden="true">
          ▾
        </span>
      </summary>
      <div class={MENU}>
        <OptionList
          label="Organizations"
          options={props.orgs}
          current={props.currentOrgId}
          createHref={props.createOrgHref}
          createLabel="New organization"
        />
        {props.projects ? (
          <OptionList
            label="Projects"
            options={props.projects}
            current={props.currentProjectId}
            createHref={props.createProjectHref}
            createLabel="New project"
          />
        ) : null}
      </div>
    </details>
  );
}

function OptionList(props: {
  label: string;
  options: SwitcherOption[];
  current: string | undefined;
  createHref: string | undefined;
  createLabel: string;
}) {
  return (
    <nav aria-label={props.label} class="py-1">
      <p class="px-2 pb-1 text-xs font-semibold uppercase tracking-wide text-gray-500">
        {props.label}
      </p>
      <ul>
        {props.options.map((o) => (
          <li>
            <a
              href={o.href}
              aria-current={o.id === props.current ? "true" : undefined}
              class={cx(
                "block truncate rounded px-2 py-1.5 text-sm hover:bg-gray-100",
                o.id === props.current ? "font-semibold text-indigo-700" : "text-gray-700",
              )}
            >
              {o.name}
            </a>
          </li>
        ))}
        {props.createHref ? (
          <li>
            <a
              href={props.createHref}
              class="block rounded px-2 py-1.5 text-sm text-indigo-700 hover:bg-gray-100"
            >
              + {props.createLabel}
            </a>
          </li>
        ) : null}
      </ul>
    </nav>
  );
}
