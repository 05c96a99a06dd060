import { Alert } from "../../components/alert";
import { Button, ButtonLink } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { EmptyState } from "../../components/empty-state";
import { Field } from "../../components/field";
import { Form, FormActions, type FormState } from "../../components/form";
import { QuotaBars, type QuotaView } from "./parts";

/** Where the VM would go with the size in the form, or why it cannot go anywhere. */
export type PlacementPreview =
  | { ok: true; host: string }
  | { ok: false; scope: string; detail: string }
  | { ok: null; detail: string };

export type VmFormProps = {
  project: { id: string; name: string };
  images: { id: string; name: string; minDiskGb: number }[];
  presets: readonly { id: string; label: string }[];
  csrfToken: string;
  form: FormState;
  preview: PlacementPreview;
};

/** The placement preview: refreshed by htmx whenever a field of the form changes. */
export function PlacementPanel(props: { projectId: string; preview: PlacementPreview }) {
  const p = props.preview;
  return (
    <div
      id="placement-preview"
      hx-get={`/projects/${props.projectId}/vms/placement`}
      hx-include="#field-imageId, #field-size, #field-vcpus, #field-memoryMb, #field-diskGb"
      hx-trigger="change from:#vm-form"
      hx-swap="outerHTML"
      aria-live="polite"
      data-placement={p.ok === true ? "ok" : p.ok === false ? p.scope : "unknown"}
    >
      {p.ok === true ? (
        <Alert tone="success" title="Placement">
          It would run on host <span class="font-mono">{p.host}</span>.
        </Alert>
      ) : p.ok === false ? (
        <Alert tone="warning" title={`No capacity (${p.scope.replaceAll("_", " ")})`}>
          {p.detail}
        </Alert>
      ) : (
        <Alert tone="info" title="Placement">
          {p.detail}
        </Alert>
      )}
    </div>
  );
}

/** The create form; htmx swaps its 422 re-render (with inline errors) over it. */
export function VmForm(props: VmFormProps) {
  const { values, errors } = props.form;
  return (
    <Form
      id="vm-form"
      action={`/projects/${props.project.id}/vms`}
      csrfToken={props.csrfToken}
      error={props.form.formError}
      noValidate
    >
      <Field
        name="name"
        label="Name"
        required
        value={values.name}
        error={errors.name}
        hint="Lower-case letters, digits and '-'; also the hostname."
        attrs={{ maxlength: "63", autocomplete: "off" }}
      />
      <Field
        as="select"
        name="imageId"
        label="Image"
        required
        value={values.imageId}
        error={errors.imageId}
        options={props.images.map((i) => ({
          value: i.id,
          label: `${i.name} (min ${i.minDiskGb} GB disk)`,
        }))}
      />
      <fieldset class="space-y-4 rounded-md border border-gray-200 p-4">
        <legend class="px-1 text-sm font-medium text-gray-900">Size</legend>
        <Field
          as="select"
          name="size"
          label="Preset"
          value={values.size ?? "small"}
          error={errors.size}
          options={[
            ...props.presets.map((p) => ({ value: p.id, label: p.label })),
            { value: "custom", label: "Custom (the fields below)" },
          ]}
        />
        <div class="grid gap-4 sm:grid-cols-3">
          <Field
            name="vcpus"
            label="vCPUs"
            type="number"
            value={values.vcpus}
            error={errors.vcpus}
            attrs={{ min: "1", max: "64" }}
          />
          <Field
            name="memoryMb"
            label="Memory (MiB)"
            type="number"
            value={values.memoryMb}
            error={errors.memoryMb}
            hint="A multiple of 128."
            attrs={{ min: "256", step: "128" }}
          />
          <Field
            name="diskGb"
            label="Disk (GB)"
            type="number"
            value={values.diskGb}
            error={errors.diskGb}
            attrs={{ min: "1" }}
          />
        </div>
        <p class="text-sm text-gray-500">The custom fields count only with the Custom preset.</p>
      </fieldset>
      <Field
        as="textarea"
        name="sshKeys"
        label="SSH public keys"
        value={values.sshKeys}
        error={errors.sshKeys}
        rows={3}
        hint="One per line (ssh-ed25519 AAAA… you@host)."
      />
      <Field
        as="textarea"
        name="userData"
        label="User data"
        value={values.userData}
        error={errors.userData}
        rows={5}
        hint="cloud-init: #cloud-config or a script."
      />
      <Field
        name="description"
        label="Description"
        value={values.description}
        error={errors.description}
      />
      <PlacementPanel projectId={props.project.id} preview={props.preview} />
      <FormActions>
        <Button>Create VM</Button>
        <a
          href={`/projects/${props.project.id}/vms`}
          class="text-sm font-medium text-gray-700 hover:underline"
        >
          Cancel
        </a>
      </FormActions>
    </Form>
  );
}

export type NewVmPageProps = VmFormProps & { quota: QuotaView };

export function NewVmPage(props: NewVmPageProps) {
  return (
    <div class="space-y-6">
      <PageHeader title="Create a VM" description={`In project ${props.project.name}`} />
      <Card title="Project quota">
        <QuotaBars quota={props.quota} />
      </Card>
      <Card>
        {props.images.length === 0 ? (
          <EmptyState
            title="No image to start from"
            description="An organization admin adds images to the catalog first."
            action={
              <ButtonLink href={`/projects/${props.project.id}/vms`} variant="secondary">
                Back to the VMs
              </ButtonLink>
            }
          />
        ) : (
          <VmForm {...props} />
        )}
      </Card>
    </div>
  );
}
