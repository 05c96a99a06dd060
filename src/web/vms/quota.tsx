import type { Hono } from "hono";
import { z } from "zod";
import { QuotaForm, QuotaPage } from "../../../templates/pages/vms/quota";
import { projectRef } from "../../domain/orgs/shared";
import { getProject } from "../../domain/projects/get-project";
import { getProjectQuota, type QuotaLimits, setProjectQuota } from "../../domain/vms/quotas";
import { authorize, serviceContext } from "../../http/auth";
import type { AppEnv, Ctx } from "../../http/env";
import { htmxRedirect } from "../../http/htmx";
import { consoleLayout, pageSession, toSignIn } from "../console";
import { setFlash } from "../flash";
import { emptyForm, type FormState, formFailure, parseForm, readForm } from "../forms";
import { renderPage } from "../render";
import { quotaView } from "./form";
import { may } from "./shared";

const count = (max: number) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^\d{1,12}$/.test(v.trim()) ? Number(v.trim()) : v),
    z.number({ message: "a whole number" }).int().min(0).max(max),
  );

/** The same bounds as the REST API's quota body. */
const QuotaFields = z.object({
  maxVms: count(10_000),
  maxVcpus: count(100_000),
  maxMemoryMb: count(100_000_000),
  maxDiskGb: count(10_000_000),
});

function parseQuotaForm(values: Record<string, string>): QuotaLimits {
  return parseForm(QuotaFields, values);
}

async function pageProps(c: Ctx, projectId: string, csrfToken: string, form?: FormState) {
  const sc = serviceContext(c);
  const project = await getProject(sc, projectId);
  const { limits, usage } = await getProjectQuota(sc, projectId);
  return {
    project: { id: project.id, name: project.name },
    quota: quotaView(limits, usage),
    canEdit: await may(c, projectRef(projectId), "manage_quotas"),
    csrfToken,
    form:
      form ??
      emptyForm({
        maxVms: String(limits.maxVms),
        maxVcpus: String(limits.maxVcpus),
        maxMemoryMb: String(limits.maxMemoryMb),
        maxDiskGb: String(limits.maxDiskGb),
      }),
  };
}

/** `/projects/:projectId/quota`: usage for whoever sees the project, limits for org admins. */
export function registerQuotaPages(app: Hono<AppEnv>): void {
  app.get("/projects/:projectId/quota", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const projectId = c.req.param("projectId");
    const props = await pageProps(c, projectId, active.session.csrfToken);
    return renderPage(c, {
      title: `Quota · ${props.project.name}`,
      layout: {
        ...(await consoleLayout(c, active, { currentProjectId: projectId })),
        currentPath: "/vms",
      },
      body: <QuotaPage {...props} />,
    });
  });

  app.post("/projects/:projectId/quota", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const projectId = c.req.param("projectId");
    const values = await readForm(c);
    // Who may not set limits hears so before anything about their input.
    await authorize(c, projectRef(projectId), "manage_quotas");
    try {
      await setProjectQuota(serviceContext(c), projectId, parseQuotaForm(values));
      setFlash(c, { kind: "success", message: "Quota saved." });
      return htmxRedirect(c, `/projects/${projectId}/quota`);
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      const props = await pageProps(c, projectId, active.session.csrfToken, failed.state);
      return renderPage(c, {
        title: `Quota · ${props.project.name}`,
        layout: {
          ...(await consoleLayout(c, active, { currentProjectId: projectId })),
          currentPath: "/vms",
        },
        body: <QuotaPage {...props} />,
        fragment: <QuotaForm {...props} />,
        status: failed.status,
      });
    }
  });
}
