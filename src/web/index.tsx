import type { Hono } from "hono";
import { countUsers } from "../domain/identity/users";
import type { AppEnv } from "../http/env";
import { registerAccountPages } from "./account/routes";
import { registerAuditPages } from "./audit/routes";
import { registerAuthPages } from "./auth/routes";
import { pageSession } from "./console";
import { registerDashboardStream, renderDashboard } from "./dashboard/routes";
import { registerHostPages } from "./hosts/routes";
import { registerImagePages } from "./images/routes";
import { registerInvitationPages } from "./orgs/invitations";
import { registerOrgPages } from "./orgs/routes";
import { registerTokenPages } from "./orgs/tokens";
import { registerQuotaPages } from "./vms/quota";
import { registerVmPages } from "./vms/routes";

/** Every console page. Pages are thin: who is asking, a domain call, a template. */
export function registerWeb(app: Hono<AppEnv>): void {
  app.get("/", async (c) => {
    const active = pageSession(c);
    if (!active) {
      const fresh = (await countUsers(c.var.deps)) === 0;
      return c.redirect(fresh ? "/setup" : "/sign-in", 303);
    }
    return renderDashboard(c, active);
  });
  registerDashboardStream(app);
  registerAuthPages(app);
  registerAccountPages(app);
  registerOrgPages(app);
  registerTokenPages(app);
  registerInvitationPages(app);
  registerVmPages(app);
  registerQuotaPages(app);
  registerImagePages(app);
  registerHostPages(app);
  registerAuditPages(app);
}
