import { Badge } from "../../components/badge";
import { Button } from "../../components/button";
import { Field } from "../../components/field";
import { CsrfInput, Form, FormActions, type FormState } from "../../components/form";

export type EnrollmentTokenRow = {
  id: string;
  description: string;
  prefix: string;
  uses: number;
  maxUses: number;
  expiresAt: string;
  /** "active", "revoked", "expired" or "used up": only active ones can be revoked. */
  status: string;
};

export type TokensPanelProps = {
  orgId: string;
  csrfToken: string;
  tokens: EnrollmentTokenRow[];
  state: FormState;
  /** Right after creation only: the secret and the command that uses it (never stored). */
  created?: { secret: string; command: string } | undefined;
};

/** What a new host's operator runs; `origin` is where the console (and agent API) answers. */
export function enrollCommand(origin: string, secret: string): string {
  return `strato-agent enroll --url ${origin} --token ${secret} --state-dir /var/lib/strato-agent`;
}

/**
 * The enrollment tokens of an organization: the list, the create form and, once, the new secret.
 * The form swaps the panel's contents (inside `#enrollment-tokens`, which the page provides) so
 * the list shows the new token too.
 */
export function TokensPanel(props: TokensPanelProps) {
  const { values, errors } = props.state;
  return (
    <div class="space-y-4">
      {props.created ? (
        <div
          class="space-y-2 rounded-md border border-green-200 bg-green-50 p-3 text-sm text-green-900"
          data-enrollment-secret
        >
          <p>Run this on the new host. The token is shown only now; only its hash is kept:</p>
          <input
            readonly
            aria-label="Enrollment token"
            value={props.created.secret}
            class="block w-full rounded-md border-0 bg-white px-2 py-1 font-mono text-xs ring-1 ring-inset ring-green-300"
          />
          <pre
            class="overflow-x-auto whitespace-pre-wrap break-all rounded-md bg-gray-900 p-2 font-mono text-xs text-gray-100"
            data-enroll-command
          >
            {props.created.command}
          </pre>
        </div>
      ) : null}
      {props.tokens.length > 0 ? (
        <ul class="divide-y divide-gray-100" id="enrollment-token-list">
          {props.tokens.map((t) => (
            <li class="flex items-center justify-between gap-2 py-2 text-sm" data-key={t.id}>
              <span>
                <span class="font-medium text-gray-900">{t.description}</span>{" "}
                <span class="font-mono text-xs text-gray-500">{t.prefix}…</span>{" "}
                <Badge tone={t.status === "active" ? "green" : "gray"}>{t.status}</Badge>{" "}
                <span class="text-gray-500">
                  used {t.uses} of {t.maxUses}, expires {t.expiresAt}
                </span>
              </span>
              {t.status === "active" ? (
                <form
                  method="post"
                  action={`/orgs/${props.orgId}/enrollment-tokens/${t.id}/revoke`}
                >
                  <CsrfInput token={props.csrfToken} />
                  <Button size="sm" variant="secondary" attrs={{ "data-action": "revoke-token" }}>
                    Revoke
                  </Button>
                </form>
              ) : null}
            </li>
          ))}
        </ul>
      ) : (
        <p class="text-sm text-gray-500">No enrollment tokens yet.</p>
      )}
      <Form
        id="enrollment-token-form"
        action={`/orgs/${props.orgId}/enrollment-tokens`}
        csrfToken={props.csrfToken}
        target="#enrollment-tokens"
        error={props.state.formError}
        noValidate
      >
        <div class="grid gap-4 sm:grid-cols-3">
          <Field
            class="sm:col-span-2"
            name="description"
            label="Description"
            required
            value={values.description}
            error={errors.description}
            hint="Where the token is used, e.g. “rack 4, site A”."
          />
          <Field
            name="maxUses"
            label="Max uses"
            type="number"
            value={values.maxUses ?? "1"}
            error={errors.maxUses}
            hint="Hosts it may enroll (valid 24 hours)."
          />
        </div>
        <FormActions>
          <Button>Create token</Button>
        </FormActions>
      </Form>
    </div>
  );
}
