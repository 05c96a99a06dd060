import type { Hono } from "hono";
import {
  ImageForm,
  ImagesPage,
  type ImagesPageProps,
} from "../../../templates/pages/images/images";
import { ServiceError } from "../../domain/errors";
import {
  CreateImageInput,
  createImage,
  deleteImage,
  imageRef,
  listImages,
} from "../../domain/images/images";
import { getOrganization } from "../../domain/orgs/get-organization";
import { orgRef } from "../../domain/orgs/shared";
import { listProjects } from "../../domain/projects/list-projects";
import { authorize, serviceContext } from "../../http/auth";
import type { AppEnv, Ctx } from "../../http/env";
import { htmxRedirect } from "../../http/htmx";
import { consoleLayout, pageSession, toSignIn } from "../console";
import { setFlash } from "../flash";
import { emptyForm, type FormState, formFailure, parseForm, readForm } from "../forms";
import { renderPage } from "../render";
import { may } from "../vms/shared";

async function pageProps(c: Ctx, orgId: string, csrfToken: string, form: FormState) {
  const sc = serviceContext(c);
  const org = await getOrganization(sc, orgId);
  const rows = await listImages(sc, orgId);
  const canAdd = await may(c, orgRef(orgId), "manage_images");
  const projects = canAdd ? await listProjects(sc, orgId) : [];
  const names = new Map(projects.map((p) => [p.id, p.name]));
  const images: ImagesPageProps["images"] = [];
  for (const i of rows) {
    images.push({
      id: i.id,
      name: i.name,
      format: i.format,
      minDiskGb: i.minDiskGb,
      url: i.url,
      sha256: i.sha256,
      scope:
        i.orgId !== orgId
          ? "another organization"
          : i.projectId
            ? `project ${names.get(i.projectId) ?? i.projectId}`
            : "organization",
      public: i.public,
      canDelete: i.orgId === orgId && (await may(c, imageRef(i.id), "delete")),
    });
  }
  return {
    org: { id: org.id, name: org.name },
    images,
    projects: projects.map((p) => ({ id: p.id, name: p.name })),
    canAdd,
    csrfToken,
    form,
  };
}

/** The form's fields as the domain's input; bad ones are a 422 naming the form's fields. */
function parseImageForm(values: Record<string, string>) {
  const min = (values.minDiskGb ?? "").trim();
  return parseForm(CreateImageInput, {
    name: values.name ?? "",
    url: (values.url ?? "").trim(),
    sha256: (values.sha256 ?? "").trim().toLowerCase(),
    format: values.format ?? "",
    minDiskGb: min === "" ? undefined : /^\d{1,9}$/.test(min) ? Number(min) : Number.NaN,
    public: values.public === "true",
    ...(values.projectId ? { projectId: values.projectId } : {}),
  });
}

/** `/orgs/:orgId/images`: the catalog, add (manage_images) and delete. */
export function registerImagePages(app: Hono<AppEnv>): void {
  app.get("/images", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const layout = await consoleLayout(c, active);
    const orgId = layout.switcher?.currentOrgId;
    return c.redirect(orgId ? `/orgs/${orgId}/images` : "/", 303);
  });

  app.get("/orgs/:orgId/images", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const props = await pageProps(c, c.req.param("orgId"), active.session.csrfToken, emptyForm());
    return renderPage(c, {
      title: "Images",
      layout: await consoleLayout(c, active),
      body: <ImagesPage {...props} />,
    });
  });

  app.post("/orgs/:orgId/images", async (c) => {
    const active = pageSession(c);
    if (!active) return toSignIn(c);
    const orgId = c.req.param("orgId");
    const values = await readForm(c);
    // Who may not add images hears so before anything about their input.
    await authorize(
      c,
      values.projectId ? { type: "project", id: values.projectId } : orgRef(orgId),
      "manage_images",
    );
    try {
      const image = await createImage(serviceContext(c), orgId, parseImageForm(values));
      setFlash(c, { kind: "success", message: `Image ${image.name} added.` });
      return htmxRedirect(c, `/orgs/${orgId}/images`);
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      const props = await pageProps(c, orgId, active.session.csrfToken, failed.state);
      return renderPage(c, {
        title: "Images",
        layout: await consoleLayout(c, active),
        body: <ImagesPage {...props} />,
        fragment: <ImageForm {...props} />,
        status: failed.status,
      });
    }
  });

  app.post("/orgs/:orgId/images/:imageId/delete", async (c) => {
    if (!pageSession(c)) return toSignIn(c);
    const orgId = c.req.param("orgId");
    try {
      await deleteImage(serviceContext(c), c.req.param("imageId"));
      setFlash(c, { kind: "success", message: "Image deleted." });
    } catch (err) {
      // In use by a VM: say so on the page; 403/404 are error pages.
      if (!(err instanceof ServiceError) || err.code !== "CONFLICT") throw err;
      setFlash(c, { kind: "error", message: err.message });
    }
    return htmxRedirect(c, `/orgs/${orgId}/images`);
  });
}
