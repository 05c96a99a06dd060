import { Button } from "../../components/button";
import { Field } from "../../components/field";
import { Form, FormActions, type FormState } from "../../components/form";

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
