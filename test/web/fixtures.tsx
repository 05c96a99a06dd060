import { ServiceError } from "../../src/domain/errors";
import { htmxRedirect } from "../../src/http/htmx";
import type { FieldError } from "../../src/http/problem";
import { setFlash } from "../../src/web/flash";
import { emptyForm, type FormState, formFailure, readForm } from "../../src/web/forms";
import { renderPage } from "../../src/web/render";
import { Badge } from "../../templates/components/badge";
import { Button } from "../../templates/components/button";
import { Card, PageHeader } from "../../templates/components/card";
import { Field } from "../../templates/components/field";
import { Form, FormActions } from "../../templates/components/form";
import type { AppLayoutProps } from "../../templates/layouts/app";
import type { Harness } from "../support/harness";

export const CSRF_TOKEN = "tok-123";

export const LAYOUT: AppLayoutProps = {
  user: { name: "Ada Lovelace", email: "ada@example.com" },
  csrfToken: CSRF_TOKEN,
  switcher: {
    orgs: [
      { id: "org_1", name: "Analytical Engines", href: "/fixture/switch?org=org_1" },
      { id: "org_2", name: "Difference Ltd", href: "/fixture/switch?org=org_2" },
    ],
    currentOrgId: "org_1",
    projects: [{ id: "prj_1", name: "Mill", href: "/fixture/switch?org=org_1&project=prj_1" }],
    currentProjectId: "prj_1",
  },
};

function FixtureForm(props: { state: FormState }) {
  const { values, errors } = props.state;
  return (
    <Form
      action="/fixture/form"
      csrfToken={CSRF_TOKEN}
      noValidate
      id="fixture-form"
      error={props.state.formError}
    >
      <Field name="name" label="Name" value={values.name} error={errors.name} hint="1–20 chars" />
      <Field
        as="select"
        name="size"
        label="Size"
        value={values.size}
        error={errors.size}
        options={[
          { value: "", label: "Choose…" },
          { value: "small", label: "Small" },
          { value: "large", label: "Large" },
        ]}
      />
      <FormActions>
        <Button>Create</Button>
      </FormActions>
    </Form>
  );
}

function validate(values: Record<string, string>): void {
  const fields: FieldError[] = [];
  const name = values.name ?? "";
  if (name.length < 1 || name.length > 20) {
    fields.push({ in: "form", field: "name", code: "too_small", message: "Name is required." });
  }
  if (values.size !== "small" && values.size !== "large") {
    fields.push({ in: "form", field: "size", code: "invalid_enum", message: "Pick a size." });
  }
  if (fields.length > 0) throw new ServiceError("VALIDATION", "Check the fields.", fields);
  if (name === "taken") throw new ServiceError("CONFLICT", "That name is taken.");
}

/** Pages and actions built only from the shell, registered on a test app. */
export function addShellFixtures(h: Harness) {
  const received = { csrfHeaders: [] as (string | undefined)[] };

  h.app.get("/fixture/page", (c) =>
    renderPage(c, {
      title: "Fixture",
      layout: LAYOUT,
      body: (
        <>
          <PageHeader title="Fixture page" description="Built from the shell only." />
          <Card title="Status">
            <p id="content">
              Hello <Badge tone="green">running</Badge>
            </p>
            <Button
              type="button"
              variant="secondary"
              id="conflict-button"
              attrs={{ "hx-get": "/fixture/conflict", "hx-target": "#content" }}
            >
              Try something that conflicts
            </Button>
            <Button
              type="button"
              variant="secondary"
              id="json-error-button"
              attrs={{ "hx-get": "/api/v1/fixture-conflict", "hx-target": "#content" }}
            >
              Call the API
            </Button>
          </Card>
        </>
      ),
    }),
  );
  h.app.get("/vms/fixture/section/vm_1", (c) =>
    renderPage(c, { title: "VM", layout: LAYOUT, body: <p id="vm">vm_1</p> }),
  );
  h.app.get("/fixture/bare", (c) =>
    renderPage(c, { title: "Sign in", layout: "bare", body: <p id="bare">Sign in here</p> }),
  );
  h.app.get("/fixture/form", (c) =>
    renderPage(c, {
      title: "New thing",
      layout: LAYOUT,
      body: <FixtureForm state={emptyForm()} />,
    }),
  );
  h.app.post("/fixture/form", async (c) => {
    received.csrfHeaders.push(c.req.header("x-csrf-token"));
    const values = await readForm(c);
    try {
      validate(values);
    } catch (err) {
      const failed = formFailure(err, values);
      if (!failed) throw err;
      const form = <FixtureForm state={failed.state} />;
      return renderPage(c, {
        title: "New thing",
        layout: LAYOUT,
        body: form,
        fragment: form,
        status: failed.status,
      });
    }
    setFlash(c, { kind: "success", message: `Created ${values.name}.` });
    return htmxRedirect(c, "/fixture/page");
  });
  h.app.get("/fixture/conflict", () => {
    throw new ServiceError("CONFLICT", "The VM is being deleted.");
  });
  h.app.get("/fixture/invalid", () => {
    throw new ServiceError("VALIDATION", "Bad input.", [
      { in: "query", field: "limit", code: "too_big", message: "At most 100." },
    ]);
  });
  h.app.get("/fixture/boom", () => {
    throw new Error("secret internals: hunter2");
  });
  h.app.get("/api/v1/fixture-conflict", () => {
    throw new ServiceError("CONFLICT", "The VM is being deleted.");
  });
  return received;
}
