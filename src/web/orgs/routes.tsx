import type { Context, Hono } from "hono";
import { Card } from "../../../templates/components/card";
import { InviteForm, NameForm } from "../../../templates/pages/orgs/forms";
import { OrgPage } from "../../../templates/pages/orgs/org";
import { ProjectPage } from "../../../templates/pages/projects/project";
import { CreateInvitationBody } from "../../api/v1/orgs/invitations";
import { CreateNamedBody, RenameBody } from "../../api/v1/tenancy-schemas";
import { ORG_ROLES, type OrgRole, PROJECT_ROLES, type ProjectRole } from "../../db/schema";
import { ServiceError } from "../../domain/errors";
import { changeMemberRole } from "../../domain/orgs/change-member-role";
import { createInvitation } from "../../domain/orgs/create-invitation";
import { createOrganization } from "../../domain/orgs/create-organization";
import { deleteOrganization } from "../../domain/orgs/delete-organization";
import { getOrganization } from "../../domain/orgs/get-organization";
import { leaveOrganization } from "../../domain/orgs/leave-organization";
import { listInvitations } from "../../domain/orgs/list-invitations";
import { listMembers } from "../../domain/orgs/list-members";
import { removeMember } from "../../domain/orgs/remove-member";
import { revokeInvitation } from "../../domain/orgs/revoke-invitation";
import { updateOrganization } from "../../domain/orgs/update-organization";
import { addProjectMember } from "../../domain/projects/add-project-member";
import { createProject } from "../../domain/projects/create-project";
import { deleteProject } from "../../domain/projects/delete-project";
import { getProject } from "../../domain/projects/get-project";
import { listProjectMembers } from "../../domain/projects/list-project-members";
import { listProjects } from "../../domain/projects/list-projects";
import { removeProjectMember } from "../../domain/projects/remove-project-member";
import { updateProject } from "../../domain/projects/update-project";
import { serviceContext } from "../../http/auth";
import type { AppEnv } from "../../http/env";
import { htmxRedirect } from "../../http/htmx";
import { thenBack } from "../actions";
import { consoleLayout, formatTime, pageSession, rememberCurrentOrg, toSignIn } from "../console";
import { setFlash } from "../flash";
import { emptyForm, formFailure, parseForm, readForm } from "../forms";
import { renderFragment, renderPage } from "../render";
import { permissionsOn } from "./can";

type Ctx = Context<AppEnv>;

const SLUG_HINT = "Lower-case letters, digits and dashes; made from the name when left empty.";

/** A new organization's or project's fields, checked as the REST API checks its body. */
function nameInput(values: Record<string, string>) {
  const slug = values.slug?.trim();
  return parseForm(CreateNamedBody, { name: values.name ?? "", ...(slug ? { slug } : {}) });
}

/** A rename form's one field, checked as the REST API checks a rename. */
function renameInput(values: Record<string, string>) {
  return parseForm(RenameBody, { name: values.name ?? "" });
}

function roleOf(value: string | undefined): OrgRole {
  if ((ORG_ROLES as readonly string[]).includes(value ?? "")) return value as OrgRole;
  throw new ServiceError("VALIDATION", "Pick a role from the list.", [
    { in: "form", field: "role", code: "invalid", message: "pick a role from the list" },
  ]);
}

function projectRoleOf(value: string | undefined): ProjectRole {
  if ((PROJECT_ROLES as readonly string[]).includes(value ?? "")) return value as ProjectRole;
  throw new ServiceError("VALIDATION", "Pick a project role from the list.");
}

async function orgPage(c: Ctx, orgId: string, invite: Parameters<typeof OrgPage>[0]["invite"]) {
  const active = pageSession(c);
  if (!active) return toSignIn(c);
  const sc = serviceContext(c);
  const org = await getOrganization(sc, orgId);
  rememberCurrentOrg(c, orgId);
  const can = await permissionsOn(c, { type: "organization", id: orgId }, [
    "update",
    "delete",
    "manage_members",
    "manage_owners",
    "create_project",
  ] as const);
  const [projects, members, invitations] = await Promise.all([
    listProjects(sc, orgId),
    listMembers(sc, orgId),
    can.manage_members ? listInvitations(sc, orgId) : Promise.resolve([]),
  ]);
  return renderPage(c, {
    title: org.name,
    layout: await consoleLayout(c, active),
    body: (
      <OrgPage
        org={{ id: org.id, name: org.name, slug: org.slug }}
        can={{
          update: can.update,
          delete: can.delete,
          manageMembers: can.manage_members,
          manageOwners: can.manage_owners,
          createProject: can.create_project,
        }}
        me={active.user.id}
        projects={projects.map((p) => ({ id: p.id, name: p.name, slug: p.slug }))}
        members={members.map((m) => ({
          userId: m.userId,
          name: m.displayName,
          email: m.email,
          role: m.role,
        }))}
        invitations={invitations.map((i) => ({
          id: i.id,
          email: i.email,
          role: i.role,
          expiresAt: formatTime(i.expiresAt),
        }))}
        csrfToken={active.session.csrfToken}
        invite={invite}
      />
    ),
  });
}

/** Organizations, their members, invitations and projects. */
export function registerOrgPages(app: Hono<AppEnv>): void {
  // The navigation's "Projects and members" before the page knows the current organization.
  app.get("/org", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const orgId = (await consoleLayout(c, active)).switcher?.currentOrgId;
    return c.redirect(orgId ? `/orgs/${orgId}` : "/orgs/new", 303);
  });

  app.get("/orgs/new", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    return renderPage(c, {
      title: "New organization",
      layout: await consoleLayout(c, active),
      body: (
        <Card title="New organization">
          <NameForm
            id="org-form"
            action="/orgs"
            csrfToken={active.session.csrfToken}
            state={emptyForm()}
            submitLabel="Create organization"
            slugHint={SLUG_HINT}
          />
        </Card>
      ),
    });
  });

  app.post("/orgs", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const values = await readForm(c);
    try {
      const org = await createOrganization(serviceContext(c), nameInput(values));
      setFlash(c, { kind: "success", message: `${org.name} is ready. Create a project next.` });
      return htmxRedirect(c, `/orgs/${org.id}`);
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      return renderFragment(
        c,
        <NameForm
          id="org-form"
          action="/orgs"
          csrfToken={active.session.csrfToken}
          state={failed.state}
          submitLabel="Create organization"
          slugHint={SLUG_HINT}
        />,
        failed.status,
      );
    }
  });

  app.get("/orgs/:orgId", (c) =>
    orgPage(c, c.req.param("orgId"), { state: emptyForm({ role: "member" }) }),
  );

  const back = (c: Ctx) => `/orgs/${c.req.param("orgId")}`;
  app.post("/orgs/:orgId/rename", async (c) => {
    const values = await readForm(c);
    return thenBack(c, back(c), "Renamed.", () =>
      updateOrganization(serviceContext(c), c.req.param("orgId"), renameInput(values)),
    );
  });
  app.post("/orgs/:orgId/delete", async (c) => {
    try {
      await deleteOrganization(serviceContext(c), c.req.param("orgId"));
    } catch (err) {
      if (!(err instanceof ServiceError) || err.code === "UNAUTHENTICATED") throw err;
      setFlash(c, { kind: "error", message: err.message });
      return c.redirect(back(c), 303);
    }
    setFlash(c, { kind: "success", message: "The organization is deleted." });
    return c.redirect("/", 303);
  });
  app.post("/orgs/:orgId/leave", async (c) => {
    try {
      await leaveOrganization(serviceContext(c), c.req.param("orgId"));
    } catch (err) {
      if (!(err instanceof ServiceError) || err.code === "UNAUTHENTICATED") throw err;
      setFlash(c, { kind: "error", message: err.message });
      return c.redirect(back(c), 303);
    }
    setFlash(c, { kind: "success", message: "You left the organization." });
    return c.redirect("/", 303);
  });
  app.post("/orgs/:orgId/members/:userId/role", async (c) => {
    const { role } = await readForm(c);
    return thenBack(c, back(c), "Role changed.", async () =>
      changeMemberRole(
        serviceContext(c),
        c.req.param("orgId"),
        c.req.param("userId"),
        roleOf(role),
      ),
    );
  });
  app.post("/orgs/:orgId/members/:userId/remove", (c) =>
    thenBack(c, back(c), "Member removed.", () =>
      removeMember(serviceContext(c), c.req.param("orgId"), c.req.param("userId")),
    ),
  );
  app.post("/orgs/:orgId/invitations", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const orgId = c.req.param("orgId");
    const values = await readForm(c);
    const roles = (
      await permissionsOn(c, { type: "organization", id: orgId }, ["manage_owners"] as const)
    ).manage_owners
      ? [...ORG_ROLES]
      : ORG_ROLES.filter((r) => r !== "owner");
    try {
      const { url } = await createInvitation(
        serviceContext(c),
        orgId,
        parseForm(CreateInvitationBody, { email: (values.email ?? "").trim(), role: values.role }),
      );
      return renderFragment(
        c,
        <InviteForm
          orgId={orgId}
          csrfToken={active.session.csrfToken}
          state={emptyForm({ role: "member" })}
          roles={roles}
          created={{ email: values.email ?? "", url }}
        />,
        201,
      );
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      return renderFragment(
        c,
        <InviteForm
          orgId={orgId}
          csrfToken={active.session.csrfToken}
          state={failed.state}
          roles={roles}
        />,
        failed.status,
      );
    }
  });
  app.post("/orgs/:orgId/invitations/:invitationId/revoke", (c) =>
    thenBack(c, back(c), "Invitation revoked.", () =>
      revokeInvitation(serviceContext(c), c.req.param("orgId"), c.req.param("invitationId")),
    ),
  );

  // Projects.
  app.get("/orgs/:orgId/projects/new", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const org = await getOrganization(serviceContext(c), c.req.param("orgId"));
    return renderPage(c, {
      title: "New project",
      layout: await consoleLayout(c, active),
      body: (
        <Card title={`New project in ${org.name}`}>
          <NameForm
            id="project-form"
            action={`/orgs/${org.id}/projects`}
            csrfToken={active.session.csrfToken}
            state={emptyForm()}
            submitLabel="Create project"
            slugHint={SLUG_HINT}
          />
        </Card>
      ),
    });
  });
  app.post("/orgs/:orgId/projects", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const orgId = c.req.param("orgId");
    const values = await readForm(c);
    try {
      const project = await createProject(serviceContext(c), orgId, nameInput(values));
      setFlash(c, { kind: "success", message: `Project ${project.name} is ready.` });
      return htmxRedirect(c, `/projects/${project.id}`);
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      return renderFragment(
        c,
        <NameForm
          id="project-form"
          action={`/orgs/${orgId}/projects`}
          csrfToken={active.session.csrfToken}
          state={failed.state}
          submitLabel="Create project"
          slugHint={SLUG_HINT}
        />,
        failed.status,
      );
    }
  });

  app.get("/projects/:projectId", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const sc = serviceContext(c);
    const project = await getProject(sc, c.req.param("projectId"));
    const org = await getOrganization(sc, project.orgId);
    rememberCurrentOrg(c, org.id);
    const can = await permissionsOn(c, { type: "project", id: project.id }, [
      "update",
      "delete",
      "manage_members",
    ] as const);
    const [members, orgMembers] = await Promise.all([
      listProjectMembers(sc, project.id),
      listMembers(sc, org.id),
    ]);
    const withRole = new Set(members.map((m) => m.userId));
    return renderPage(c, {
      title: project.name,
      layout: await consoleLayout(c, active, { currentProjectId: project.id }),
      body: (
        <ProjectPage
          project={{ id: project.id, name: project.name, slug: project.slug }}
          org={{ id: org.id, name: org.name }}
          can={{ update: can.update, delete: can.delete, manageMembers: can.manage_members }}
          members={members.map((m) => ({
            userId: m.userId,
            name: m.displayName,
            email: m.email,
            role: m.role,
          }))}
          candidates={orgMembers
            .filter((m) => !withRole.has(m.userId))
            .map((m) => ({ userId: m.userId, name: m.displayName }))}
          csrfToken={active.session.csrfToken}
        />
      ),
    });
  });
  const projectBack = (c: Ctx) => `/projects/${c.req.param("projectId")}`;
  app.post("/projects/:projectId/rename", async (c) => {
    const values = await readForm(c);
    return thenBack(c, projectBack(c), "Renamed.", () =>
      updateProject(serviceContext(c), c.req.param("projectId"), renameInput(values)),
    );
  });
  app.post("/projects/:projectId/delete", async (c) => {
    const sc = serviceContext(c);
    const project = await getProject(sc, c.req.param("projectId"));
    try {
      await deleteProject(sc, project.id);
    } catch (err) {
      if (!(err instanceof ServiceError) || err.code === "UNAUTHENTICATED") throw err;
      setFlash(c, { kind: "error", message: err.message });
      return c.redirect(projectBack(c), 303);
    }
    setFlash(c, { kind: "success", message: "The project is deleted." });
    return c.redirect(`/orgs/${project.orgId}`, 303);
  });
  app.post("/projects/:projectId/members", async (c) => {
    const { userId = "", role } = await readForm(c);
    return thenBack(c, projectBack(c), "Added to the project.", async () =>
      addProjectMember(serviceContext(c), c.req.param("projectId"), {
        userId,
        role: projectRoleOf(role),
      }),
    );
  });
  app.post("/projects/:projectId/members/:userId/remove", (c) =>
    thenBack(c, projectBack(c), "Removed from the project.", () =>
      removeProjectMember(serviceContext(c), c.req.param("projectId"), c.req.param("userId")),
    ),
  );
}
