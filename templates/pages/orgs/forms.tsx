import { Button } from "../../components/button";
import { Card } from "../../components/card";
import { Field } from "../../components/field";
import { CsrfInput, Form, FormActions, type FormState } from "../../components/form";

/** Name (and optional URL name) of a new organization or project; re-rendered with errors by htmx. */
export function NameForm(props: {
  id: string;
  action: string;
  csrfToken: string;
  state: FormState;
  submitLabel: string;
  slugHint: string;
}) {
  const { values, errors } = props.state;
  return (
    <Form
      id={props.id}
      action={props.action}
      csrfToken={props.csrfToken}
      error={props.state.formError}
      noValidate
    >
      <Field name="name" label="Name" required value={values.name} error={errors.name} />
      <Field
        name="slug"
        label="URL name (optional)"
        value={values.slug}
        error={errors.slug}
        hint={props.slugHint}
      />
      <FormActions>
        <Button>{props.submitLabel}</Button>
      </FormActions>
    </Form>
  );
}

export const ROLE_OPTIONS = [
  { value: "viewer", label: "Viewer" },
  { value: "member", label: "Member" },
  { value: "admin", label: "Admin" },
  { value: "owner", label: "Owner" },
];

/** Invite someone by email with a role; after success the link is shown once (see InviteLink). */
export function InviteForm(props: {
  orgId: string;
  csrfToken: string;
  state: FormState;
  roles: string[];
  created?: { email: string; url: string } | undefined;
}) {
  const { values, errors } = props.state;
  return (
    <Form
      id="invite-form"
      action={`/orgs/${props.orgId}/invitations`}
      csrfToken={props.csrfToken}
      error={props.state.formError}
      noValidate
    >
      {props.created ? (
        <div
          class="rounded-md border border-green-200 bg-green-50 p-3 text-sm text-green-900"
          data-invite-link
        >
          <p class="mb-1">
            Send this link to {props.created.email}. It works once and is shown only now:
          </p>
          <input
            readonly
            aria-label="Invitation link"
            value={props.created.url}
            class="block w-full rounded-md border-0 bg-white px-2 py-1 font-mono text-xs ring-1 ring-inset ring-green-300"
          />
        </div>
      ) : null}
      <div class="grid gap-4 sm:grid-cols-3">
        <Field
          class="sm:col-span-2"
          name="email"
          label="Email"
          type="email"
          required
          value={values.email}
          error={errors.email}
        />
        <Field
          as="select"
          name="role"
          label="Role"
          value={values.role ?? "member"}
          error={errors.role}
          options={ROLE_OPTIONS.filter((o) => props.roles.includes(o.value))}
        />
      </div>
      <FormActions>
        <Button>Invite</Button>
      </FormActions>
    </Form>
  );
}

/**
 * Rename and delete of an organization or project, each shown only to those allowed. Plain form
 * posts: the route answers with a redirect and a flash message.
 */
export function SettingsCard(props: {
  /** `/orgs/<id>` or `/projects/<id>`: the forms post to `<base>/rename` and `<base>/delete`. */
  base: string;
  /** "organization" or "project", for ids and labels. */
  what: string;
  name: string;
  canUpdate: boolean;
  canDelete: boolean;
  /** When deleting is possible (e.g. "once it has no projects"). */
  deleteHint: string;
  csrfToken: string;
}) {
  if (!props.canUpdate && !props.canDelete) return null;
  const inputId = `${props.what}-name`;
  return (
    <Card title="Settings">
      <div class="space-y-4">
        {props.canUpdate ? (
          <form
            method="post"
            action={`${props.base}/rename`}
            class="flex flex-wrap items-end gap-2"
          >
            <CsrfInput token={props.csrfToken} />
            <div>
              <label for={inputId} class="block text-sm font-medium text-gray-900">
                Name
              </label>
              <input
                id={inputId}
                name="name"
                value={props.name}
                required
                class="rounded-md border-0 px-2 py-1.5 text-sm ring-1 ring-inset ring-gray-300"
              />
            </div>
            <Button size="sm" variant="secondary">
              Rename
            </Button>
          </form>
        ) : null}
        {props.canDelete ? (
          <form method="post" action={`${props.base}/delete`}>
            <CsrfInput token={props.csrfToken} />
            <p class="mb-2 text-sm text-gray-600">{props.deleteHint}</p>
            <Button size="sm" variant="danger">
              Delete {props.what}
            </Button>
          </form>
        ) : null}
      </div>
    </Card>
  );
}
