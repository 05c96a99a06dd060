import { Badge } from "../../components/badge";
import { Button } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { Field } from "../../components/field";
import { CsrfInput, Form, FormActions, type FormState } from "../../components/form";
import { Table } from "../../components/table";

export type TokenView = {
  id: string;
  name: string;
  prefix: string;
  role: string;
  project: string;
  expiresAt: string;
  lastUsedAt: string;
  revoked: boolean;
};

export type TokensPageProps = {
  org: { id: string; name: string } | undefined;
  tokens: TokenView[];
  projects: { id: string; name: string }[];
  roles: string[];
  csrfToken: string;
  form: FormState;
  /** The secret of a token just created: shown this once. */
  created?: { name: string; secret: string } | undefined;
};

/** The form to mint a token (re-rendered by htmx with errors, or with the new secret). */
export function TokenForm(props: TokensPageProps & { org: { id: string; name: string } }) {
  const { values, errors } = props.form;
  return (
    <Form
      id="token-form"
      action={`/account/tokens?org=${props.org.id}`}
      csrfToken={props.csrfToken}
      error={props.form.formError}
      noValidate
    >
      {props.created ? (
        <div
          class="rounded-md border border-green-200 bg-green-50 p-3 text-sm text-green-900"
          data-token-secret
        >
          <p class="mb-1">Copy the secret of “{props.created.name}” now; it is not shown again:</p>
          <input
            readonly
            aria-label="Token secret"
            value={props.created.secret}
            class="block w-full rounded-md border-0 bg-white px-2 py-1 font-mono text-xs ring-1 ring-inset ring-green-300"
          />
        </div>
      ) : null}
      <Field name="name" label="Name" required value={values.name} error={errors.name} />
      <div class="grid gap-4 sm:grid-cols-3">
        <Field
          as="select"
          name="role"
          label="Role"
          value={values.role ?? "viewer"}
          error={errors.role}
          options={props.roles.map((r) => ({ value: r, label: r }))}
        />
        <Field
          as="select"
          name="projectId"
          label="Project"
          value={values.projectId ?? ""}
          error={errors.projectId}
          options={[
            { value: "", label: "Whole organization" },
            ...props.projects.map((p) => ({ value: p.id, label: p.name })),
          ]}
        />
        <Field
          name="expiresInDays"
          label="Expires in (days)"
          type="number"
          value={values.expiresInDays}
          error={errors.expiresInDays}
          hint="Leave empty for no expiry."
        />
      </div>
      <FormActions>
        <Button>Create token</Button>
      </FormActions>
    </Form>
  );
}

/** API tokens of the current organization: list, revoke, and create (secret shown once). */
export function TokensPage(props: TokensPageProps) {
  if (!props.org) {
    return (
      <div class="space-y-6">
        <PageHeader title="API tokens" />
        <Card>
          <p class="text-sm text-gray-600">
            Tokens belong to an organization; join or create one first.
          </p>
        </Card>
      </div>
    );
  }
  const org = props.org;
  return (
    <div class="space-y-6">
      <PageHeader
        title="API tokens"
        description={`For scripts acting in ${org.name}. Send as Authorization: Bearer <secret>.`}
      />
      <Card title="Tokens">
        <Table
          id="tokens"
          caption="API tokens"
          captionHidden
          rows={props.tokens}
          rowKey={(t) => t.id}
          empty={<p class="text-sm text-gray-500">No tokens yet.</p>}
          columns={[
            { header: "Name", cell: (t) => t.name },
            {
              header: "Secret",
              cell: (t) => <span class="font-mono text-xs">{t.prefix}…</span>,
              class: "hidden sm:table-cell",
            },
            { header: "Role", cell: (t) => <Badge>{t.role}</Badge> },
            { header: "Scope", cell: (t) => t.project, class: "hidden md:table-cell" },
            { header: "Expires", cell: (t) => t.expiresAt, class: "hidden md:table-cell" },
            { header: "Last used", cell: (t) => t.lastUsedAt },
            {
              header: "",
              class: "text-right",
              cell: (t) =>
                t.revoked ? (
                  <Badge tone="red">revoked</Badge>
                ) : (
                  <form method="post" action={`/account/tokens/${t.id}/revoke?org=${org.id}`}>
                    <CsrfInput token={props.csrfToken} />
                    <Button size="sm" variant="danger">
                      Revoke
                    </Button>
                  </form>
                ),
            },
          ]}
        />
      </Card>
      <Card title="New token">
        <TokenForm {...props} org={org} />
      </Card>
    </div>
  );
}
