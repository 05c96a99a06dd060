import { Badge } from "../../components/badge";
import { Button, ButtonLink } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { EmptyState } from "../../components/empty-state";
import { CsrfInput, type FormState } from "../../components/form";
import { Table } from "../../components/table";
import { InviteForm, ROLE_OPTIONS, SettingsCard } from "./forms";

export type OrgView = {
  org: { id: string; name: string; slug: string };
  can: {
    update: boolean;
    delete: boolean;
    manageMembers: boolean;
    manageOwners: boolean;
    createProject: boolean;
  };
  me: string;
  projects: { id: string; name: string; slug: string }[];
  members: { userId: string; name: string; email: string; role: string }[];
  invitations: { id: string; email: string; role: string; expiresAt: string }[];
  csrfToken: string;
  invite: { state: FormState; created?: { email: string; url: string } | undefined };
};

function PostButton(props: {
  action: string;
  csrfToken: string;
  label: string;
  variant?: "danger" | "secondary";
}) {
  return (
    <form method="post" action={props.action} class="inline">
      <CsrfInput token={props.csrfToken} />
      <Button size="sm" variant={props.variant ?? "secondary"}>
        {props.label}
      </Button>
    </form>
  );
}

/** An organization: its projects, members and roles, invitations, and settings. */
export function OrgPage(props: OrgView) {
  const { org, can } = props;
  const assignable = ROLE_OPTIONS.filter((o) => o.value !== "owner" || can.manageOwners);
  return (
    <div class="space-y-6">
      <PageHeader
        title={org.name}
        description={<span class="font-mono text-xs">{org.slug}</span>}
      />

      <Card
        title="Projects"
        actions={
          can.createProject ? (
            <ButtonLink size="sm" href={`/orgs/${org.id}/projects/new`}>
              New project
            </ButtonLink>
          ) : null
        }
      >
        {props.projects.length === 0 ? (
          <EmptyState
            title="No projects yet"
            description="Projects hold VMs, images and networks."
          />
        ) : (
          <ul class="divide-y divide-gray-100" id="org-projects">
            {props.projects.map((p) => (
              <li class="py-2">
                <a class="font-medium text-indigo-700 hover:underline" href={`/projects/${p.id}`}>
                  {p.name}
                </a>
              </li>
            ))}
          </ul>
        )}
      </Card>

      <Card title="Members">
        <Table
          id="org-members"
          caption="Members"
          captionHidden
          rows={props.members}
          rowKey={(m) => m.userId}
          columns={[
            { header: "Name", cell: (m) => m.name },
            { header: "Email", cell: (m) => m.email, class: "hidden sm:table-cell" },
            {
              header: "Role",
              cell: (m) =>
                can.manageMembers && (m.role !== "owner" || can.manageOwners) ? (
                  <form
                    method="post"
                    action={`/orgs/${org.id}/members/${m.userId}/role`}
                    class="flex gap-2"
                  >
                    <CsrfInput token={props.csrfToken} />
                    <label class="sr-only" for={`role-${m.userId}`}>
                      Role of {m.name}
                    </label>
                    <select
                      id={`role-${m.userId}`}
                      name="role"
                      class="rounded-md border-0 py-1 text-sm ring-1 ring-inset ring-gray-300"
                    >
                      {assignable.map((o) => (
                        <option value={o.value} selected={o.value === m.role}>
                          {o.label}
                        </option>
                      ))}
                    </select>
                    <Button size="sm" variant="secondary">
                      Change
                    </Button>
                  </form>
                ) : (
                  <Badge tone={m.role === "owner" ? "indigo" : "gray"}>{m.role}</Badge>
                ),
            },
            {
              header: "",
              class: "text-right",
              cell: (m) =>
                m.userId === props.me ? (
                  <PostButton
                    action={`/orgs/${org.id}/leave`}
                    csrfToken={props.csrfToken}
                    label="Leave"
                    variant="danger"
                  />
                ) : can.manageMembers && (m.role !== "owner" || can.manageOwners) ? (
                  <PostButton
                    action={`/orgs/${org.id}/members/${m.userId}/remove`}
                    csrfToken={props.csrfToken}
                    label="Remove"
                    variant="danger"
                  />
                ) : null,
            },
          ]}
        />
      </Card>

      {can.manageMembers ? (
        <Card title="Invitations">
          {props.invitations.length > 0 ? (
            <ul class="mb-4 divide-y divide-gray-100" id="org-invitations">
              {props.invitations.map((i) => (
                <li class="flex items-center justify-between gap-2 py-2 text-sm">
                  <span>
                    {i.email} <Badge>{i.role}</Badge>{" "}
                    <span class="text-gray-500">expires {i.expiresAt}</span>
                  </span>
                  <PostButton
                    action={`/orgs/${org.id}/invitations/${i.id}/revoke`}
                    csrfToken={props.csrfToken}
                    label="Revoke"
                  />
                </li>
              ))}
            </ul>
          ) : null}
          <InviteForm
            orgId={org.id}
            csrfToken={props.csrfToken}
            state={props.invite.state}
            created={props.invite.created}
            roles={assignable.map((o) => o.value)}
          />
        </Card>
      ) : null}

      <SettingsCard
        base={`/orgs/${org.id}`}
        what="organization"
        name={org.name}
        canUpdate={can.update}
        canDelete={can.delete}
        deleteHint="An organization can be deleted once it has no projects."
        csrfToken={props.csrfToken}
      />
    </div>
  );
}
