import { Badge } from "../../components/badge";
import { Button } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { CsrfInput } from "../../components/form";
import { Table } from "../../components/table";
import { SettingsCard } from "../orgs/forms";

export type ProjectView = {
  project: { id: string; name: string; slug: string };
  org: { id: string; name: string };
  can: { update: boolean; delete: boolean; manageMembers: boolean };
  members: { userId: string; name: string; email: string; role: string }[];
  /** Organization members who have no project role yet (candidates to add). */
  candidates: { userId: string; name: string }[];
  csrfToken: string;
};

const PROJECT_ROLES = ["viewer", "member", "admin"];

/** A project: its extra members (on top of organization roles) and settings. */
export function ProjectPage(props: ProjectView) {
  const { project, can } = props;
  return (
    <div class="space-y-6">
      <PageHeader
        title={project.name}
        description={
          <span>
            in{" "}
            <a class="text-indigo-700 hover:underline" href={`/orgs/${props.org.id}`}>
              {props.org.name}
            </a>
          </span>
        }
      />
      <Card title="Project members">
        <p class="mb-3 text-sm text-gray-600">
          Organization owners and admins manage every project; these roles give people access to
          this project only.
        </p>
        <Table
          id="project-members"
          caption="Project members"
          captionHidden
          rows={props.members}
          rowKey={(m) => m.userId}
          empty={<p class="text-sm text-gray-500">Nobody has a role on this project alone.</p>}
          columns={[
            { header: "Name", cell: (m) => m.name },
            { header: "Email", cell: (m) => m.email, class: "hidden sm:table-cell" },
            { header: "Role", cell: (m) => <Badge>{m.role}</Badge> },
            {
              header: "",
              class: "text-right",
              cell: (m) =>
                can.manageMembers ? (
                  <form method="post" action={`/projects/${project.id}/members/${m.userId}/remove`}>
                    <CsrfInput token={props.csrfToken} />
                    <Button size="sm" variant="danger">
                      Remove
                    </Button>
                  </form>
                ) : null,
            },
          ]}
        />
        {can.manageMembers && props.candidates.length > 0 ? (
          <form
            method="post"
            action={`/projects/${project.id}/members`}
            class="mt-4 flex flex-wrap items-end gap-2"
          >
            <CsrfInput token={props.csrfToken} />
            <div>
              <label for="pm-user" class="block text-sm font-medium text-gray-900">
                Organization member
              </label>
              <select
                id="pm-user"
                name="userId"
                class="rounded-md border-0 py-1.5 text-sm ring-1 ring-inset ring-gray-300"
              >
                {props.candidates.map((c) => (
                  <option value={c.userId}>{c.name}</option>
                ))}
              </select>
            </div>
            <div>
              <label for="pm-role" class="block text-sm font-medium text-gray-900">
                Role
              </label>
              <select
                id="pm-role"
                name="role"
                class="rounded-md border-0 py-1.5 text-sm ring-1 ring-inset ring-gray-300"
              >
                {PROJECT_ROLES.map((r) => (
                  <option value={r} selected={r === "member"}>
                    {r}
                  </option>
                ))}
              </select>
            </div>
            <Button size="sm">Add to project</Button>
          </form>
        ) : null}
      </Card>
      <SettingsCard
        base={`/projects/${project.id}`}
        what="project"
        name={project.name}
        canUpdate={can.update}
        canDelete={can.delete}
        deleteHint="A project can be deleted once it holds nothing."
        csrfToken={props.csrfToken}
      />
    </div>
  );
}
