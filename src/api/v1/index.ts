import { currentActor } from "../../http/auth";
import type { Router } from "../router";
import { registerAuditEvents } from "./audit/audit-events";
import { registerMe } from "./me";
import { registerInvitations } from "./orgs/invitations";
import { registerMembers } from "./orgs/members";
import { registerOrganizations } from "./orgs/organizations";
import { registerProjectMembers } from "./projects/members";
import { registerProjects } from "./projects/projects";
import { registerTokens } from "./tokens/tokens";

/** Paths of the tenancy API: anonymous callers get 401 there before any input is looked at. */
const AUTHENTICATED_PATHS = [
  "/api/v1/me",
  "/api/v1/organizations",
  "/api/v1/organizations/*",
  "/api/v1/projects/*",
  "/api/v1/tokens/*",
  "/api/v1/invitations/accept",
];

/** The v1 resource API: organizations, members, invitations, projects, API tokens, audit. */
export function registerV1(app: Router): void {
  for (const path of AUTHENTICATED_PATHS) {
    app.use(path, async (c, next) => {
      currentActor(c);
      await next();
    });
  }
  registerMe(app);
  registerOrganizations(app);
  registerMembers(app);
  registerInvitations(app);
  registerProjects(app);
  registerProjectMembers(app);
  registerTokens(app);
  registerAuditEvents(app);
}
