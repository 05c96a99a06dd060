import type { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HostDetailPage, RevokeHostPage } from "../../../templates/pages/hosts/detail";
import { HostsPage } from "../../../templates/pages/hosts/list";
import { enrollCommand, TokensPanel } from "../../../templates/pages/hosts/tokens";
import { WorkItemPage } from "../../../templates/pages/hosts/work-item";
import { CreateEnrollmentTokenBody } from "../../api/v1/hosts/hosts";
import { ServiceError } from "../../domain/errors";
import { hostReport } from "../../domain/hosts/host-report";
import { getHost } from "../../domain/hosts/list-hosts";
import {
  cancelHostWorkAs,
  createEnrollmentTokenAs,
  DECISION_PERMISSION,
  decideHostAs,
  hostRef,
  revokeEnrollmentTokenAs,
  setMaintenanceAs,
} from "../../domain/hosts/operator-actions";
import { recentHostWork } from "../../domain/hosts/recent-work";
import type { HostDecision } from "../../domain/hosts/transition";
import { hostWorkItemLog } from "../../domain/hosts/work-item-log";
import { loadOrganization } from "../../domain/orgs/shared";
import { TERMINAL } from "../../domain/work/load-item";
import { authorize, serviceContext } from "../../http/auth";
import type { AppEnv, Ctx } from "../../http/env";
import { parseFormBody } from "../../http/form-body";
import { thenBack } from "../actions";
import {
  consoleLayout,
  formatTime,
  pageSession,
  rememberCurrentOrg,
  safeNext,
  toSignIn,
} from "../console";
import { emptyForm, formFailure, parseForm, readForm } from "../forms";
import { permissionsOn } from "../orgs/can";
import { renderPage } from "../render";
import { may } from "../vms/shared";
import { factRows, hostsPageProps, type TokenForm } from "./view";
import { workItemPageProps } from "./work-item-view";

const DONE: Record<HostDecision, string> = {
  approve: "Host approved. It picks up work from its next call.",
  reject: "Host rejected.",
  disable: "Host disabled: it gets no work until enabled.",
  enable: "Host enabled.",
  revoke: "Host revoked.",
};

/** The token form's fields as the REST body; bad ones are a 422 naming the form's fields. */
function tokenInput(values: Record<string, string>) {
  const maxUses = (values.maxUses ?? "").trim();
  return parseForm(CreateEnrollmentTokenBody, {
    description: values.description ?? "",
    maxUses: maxUses === "" ? undefined : /^\d{1,9}$/.test(maxUses) ? Number(maxUses) : Number.NaN,
  });
}

/**
 * A host action from a plain form: hosts the caller cannot see are a 404 page; a refusal or a
 * state conflict is a flash on the page the form came from (`back`), with nothing changed. `run`
 * authorizes and audits refusals as the API does (domain/hosts/operator-actions.ts).
 */
async function hostAction(
  c: Ctx,
  success: string,
  run: (hostId: string) => Promise<unknown>,
): Promise<Response> {
  if (!pageSession(c)) return toSignIn(c);
  const hostId = c.req.param("hostId") ?? "";
  const values = await readForm(c);
  if (!(await may(c, hostRef(hostId), "view"))) {
    throw new ServiceError("NOT_FOUND", `No host ${hostId}.`);
  }
  return thenBack(c, safeNext(values.back ?? `/hosts/${hostId}`), success, () => run(hostId));
}

/** The hosts page; `tokenAnswer` is the token form's response (htmx swaps only its panel). */
async function renderHostsPage(
  c: Ctx,
  orgId: string,
  tokens: TokenForm,
  tokenAnswer?: { status: ContentfulStatusCode },
) {
  const active = pageSession(c);
  if (!active) return toSignIn(c);
  const props = await hostsPageProps(c, orgId, active.session.csrfToken, tokens);
  rememberCurrentOrg(c, orgId);
  return renderPage(c, {
    title: "Hosts",
    layout: await consoleLayout(c, active),
    body: <HostsPage {...props} />,
    ...(tokenAnswer && props.tokens
      ? {
          fragment: (
            <TokensPanel orgId={orgId} csrfToken={active.session.csrfToken} {...props.tokens} />
          ),
        }
      : {}),
    ...(tokenAnswer ? { status: tokenAnswer.status } : {}),
  });
}

/** `/orgs/:orgId/hosts` and `/hosts/:hostId`: enrollment, health, capacity and host actions. */
export function registerHostPages(app: Hono<AppEnv>): void {
  app.get("/hosts", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const orgId = (await consoleLayout(c, active)).switcher?.currentOrgId;
    return c.redirect(orgId ? `/orgs/${orgId}/hosts` : "/", 303);
  });

  app.get("/orgs/:orgId/hosts", (c) =>
    renderHostsPage(c, c.req.param("orgId"), { state: emptyForm({ maxUses: "1" }) }),
  );

  app.post("/orgs/:orgId/enrollment-tokens", async (c) => {
    if (!pageSession(c)) return toSignIn(c);
    const orgId = c.req.param("orgId");
    const values = await readForm(c);
    let created: { secret: string };
    try {
      // Who may not manage hosts hears so (and is audited) before anything about their input.
      created = await createEnrollmentTokenAs(serviceContext(c), orgId, () => {
        const input = tokenInput(values);
        return {
          description: input.description,
          scope: input.scope,
          maxUses: input.maxUses,
          ttlMs: input.ttlHours * 3_600_000,
        };
      });
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      return renderHostsPage(c, orgId, { state: failed.state }, { status: failed.status });
    }
    const secret = created.secret;
    return renderHostsPage(
      c,
      orgId,
      {
        state: emptyForm({ maxUses: "1" }),
        created: { secret, command: enrollCommand(c.var.deps.config.webauthn.origin, secret) },
      },
      { status: 201 },
    );
  });

  app.post("/orgs/:orgId/enrollment-tokens/:tokenId/revoke", (c) => {
    if (!pageSession(c)) return toSignIn(c);
    const orgId = c.req.param("orgId");
    return thenBack(c, `/orgs/${orgId}/hosts`, "Enrollment token revoked.", async () => {
      await revokeEnrollmentTokenAs(serviceContext(c), orgId, c.req.param("tokenId"));
    });
  });

  app.get("/hosts/:hostId", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const hostId = c.req.param("hostId");
    await authorize(c, hostRef(hostId), "view");
    const host = await getHost(c.var.deps, hostId);
    if (!host) throw new ServiceError("NOT_FOUND", `No host ${hostId}.`);
    const sc = serviceContext(c);
    const [org, report, work, can] = await Promise.all([
      loadOrganization(c.var.deps, host.orgId),
      hostReport(sc, hostId),
      recentHostWork(sc, hostId).then((page) => page.items),
      permissionsOn(c, hostRef(hostId), ["approve", "operate", "delete"] as const),
    ]);
    const layout = await consoleLayout(c, active);
    return renderPage(c, {
      title: host.name,
      layout: { ...layout, currentPath: `/orgs/${host.orgId}/hosts` },
      body: (
        <HostDetailPage
          host={{
            id: host.id,
            name: host.name,
            state: host.state,
            health: host.health,
            maintenance: host.maintenance,
            scope: host.scope,
            lastSeen: formatTime(host.lastSeenAt),
            enrolledAt: formatTime(host.createdAt),
            replacesHostId: host.replacesHostId,
          }}
          org={{ id: org.id, name: org.name }}
          facts={factRows(host.facts)}
          report={{
            problems: report.problems,
            lastStatus: formatTime(report.lastStatusAt),
            clockOffset: host.clockOffsetMs === null ? "—" : `${host.clockOffsetMs} ms`,
          }}
          work={work.map((w) => ({
            id: w.id,
            op: w.op,
            resource: `${w.resourceKind} ${w.resourceId}`,
            // The agent holds it (design §2.7 `after`); the queue only knows it is leased.
            state:
              w.state === "leased" && report.blockedItemIds.includes(w.id) ? "blocked" : w.state,
            outcome: w.outcome,
            created: formatTime(w.createdAt),
            finished: w.finishedAt === null ? "—" : formatTime(w.finishedAt),
            open: !TERMINAL.has(w.state),
            cancelRequested: w.cancelRequested,
          }))}
          can={can}
          csrfToken={active.session.csrfToken}
        />
      ),
    });
  });

  app.get("/hosts/:hostId/work-items/:itemId", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const hostId = c.req.param("hostId");
    const sc = serviceContext(c);
    const log = await hostWorkItemLog(sc, hostId, c.req.param("itemId"));
    const host = await getHost(c.var.deps, hostId);
    if (!host) throw new ServiceError("NOT_FOUND", `No host ${hostId}.`);
    const can = await permissionsOn(c, hostRef(hostId), ["operate"] as const);
    const layout = await consoleLayout(c, active);
    return renderPage(c, {
      title: `${log.op} on ${host.name}`,
      layout: { ...layout, currentPath: `/orgs/${host.orgId}/hosts` },
      body: (
        <WorkItemPage
          {...workItemPageProps(
            log,
            { id: host.id, name: host.name },
            can.operate,
            active.session.csrfToken,
          )}
        />
      ),
    });
  });

  app.get("/hosts/:hostId/revoke", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const hostId = c.req.param("hostId");
    await authorize(c, hostRef(hostId), DECISION_PERMISSION.revoke);
    const host = await getHost(c.var.deps, hostId);
    if (!host) throw new ServiceError("NOT_FOUND", `No host ${hostId}.`);
    return renderPage(c, {
      title: `Revoke ${host.name}`,
      layout: await consoleLayout(c, active),
      body: (
        <RevokeHostPage
          host={{ id: host.id, name: host.name }}
          csrfToken={active.session.csrfToken}
        />
      ),
    });
  });

  for (const decision of ["approve", "reject", "disable", "enable", "revoke"] as const) {
    app.post(`/hosts/:hostId/${decision}`, (c) =>
      hostAction(c, DONE[decision], (hostId) => decideHostAs(serviceContext(c), hostId, decision)),
    );
  }

  app.post("/hosts/:hostId/work-items/:itemId/cancel", (c) =>
    hostAction(
      c,
      "Cancellation requested: a queued item ends now, a running one at its next safe point.",
      (hostId) => cancelHostWorkAs(serviceContext(c), hostId, c.req.param("itemId")),
    ),
  );

  app.post("/hosts/:hostId/maintenance", async (c) => {
    // The message depends on the submitted value, so read it before hostAction consumes the body.
    const enabled = (await parseFormBody(c)).enabled === "true";
    return hostAction(
      c,
      enabled ? "Maintenance started: no new work is placed here." : "Maintenance ended.",
      (hostId) => setMaintenanceAs(serviceContext(c), hostId, enabled),
    );
  });
}
