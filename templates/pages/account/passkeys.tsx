import { Badge } from "../../components/badge";
import { Button } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { Field } from "../../components/field";
import { CsrfInput } from "../../components/form";
import { Table } from "../../components/table";
import { PasskeyForm } from "../auth/passkey-form";

export type PasskeyView = {
  id: string;
  name: string;
  backedUp: boolean;
  createdAt: string;
  lastUsedAt: string;
};

/** One's passkeys: rename and remove in place (htmx), add another with a ceremony. */
export function PasskeysPage(props: { passkeys: PasskeyView[]; csrfToken: string }) {
  const only = props.passkeys.length === 1;
  return (
    <div class="space-y-6">
      <PageHeader
        title="Passkeys"
        description="The devices and security keys that can sign you in."
      />
      <Card>
        <Table
          id="passkeys"
          caption="Your passkeys"
          captionHidden
          rows={props.passkeys}
          rowKey={(p) => p.id}
          columns={[
            {
              header: "Name",
              cell: (p) => (
                <form class="flex gap-2" method="post" action={`/account/passkeys/${p.id}/rename`}>
                  <CsrfInput token={props.csrfToken} />
                  <label class="sr-only" for={`name-${p.id}`}>
                    Name
                  </label>
                  <input
                    id={`name-${p.id}`}
                    name="name"
                    value={p.name}
                    maxlength={60}
                    required
                    class="block w-full rounded-md border-0 px-2 py-1 text-sm ring-1 ring-inset ring-gray-300"
                  />
                  <Button size="sm" variant="secondary">
                    Rename
                  </Button>
                </form>
              ),
            },
            {
              header: "Synced",
              cell: (p) =>
                p.backedUp ? <Badge tone="green">synced</Badge> : <Badge>this device</Badge>,
            },
            { header: "Added", cell: (p) => p.createdAt, class: "hidden sm:table-cell" },
            { header: "Last used", cell: (p) => p.lastUsedAt, class: "hidden sm:table-cell" },
            {
              header: "",
              class: "text-right",
              cell: (p) => (
                <form method="post" action={`/account/passkeys/${p.id}/remove`}>
                  <CsrfInput token={props.csrfToken} />
                  <Button size="sm" variant="danger" disabled={only}>
                    Remove
                  </Button>
                </form>
              ),
            },
          ]}
        />
        {only ? (
          <p class="mt-3 text-sm text-gray-600">Add a second passkey before removing this one.</p>
        ) : null}
      </Card>
      <Card title="Add a passkey">
        <PasskeyForm
          id="add-passkey"
          kind="add"
          optionsUrl="/api/v1/me/passkeys/options"
          finishUrl="/api/v1/me/passkeys"
          next="/account/passkeys"
          submitLabel="Add a passkey"
        >
          <Field name="name" label="Name (optional)" placeholder="e.g. Work laptop" />
        </PasskeyForm>
      </Card>
    </div>
  );
}
