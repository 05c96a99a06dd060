import { Badge } from "../../components/badge";
import { Button } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { Field } from "../../components/field";
import { CsrfInput, Form, FormActions, type FormState } from "../../components/form";
import { Table } from "../../components/table";

export type ImageView = {
  id: string;
  name: string;
  format: string;
  minDiskGb: number;
  url: string;
  sha256: string;
  scope: string;
  public: boolean;
  canDelete: boolean;
};

export type ImagesPageProps = {
  org: { id: string; name: string };
  images: ImageView[];
  /** Projects an image may be limited to; only when the user may add images. */
  projects: { id: string; name: string }[];
  canAdd: boolean;
  csrfToken: string;
  form: FormState;
};

/** The form to add an image to the catalog (htmx swaps its 422 re-render over it). */
export function ImageForm(props: ImagesPageProps) {
  const { values, errors } = props.form;
  return (
    <Form
      id="image-form"
      action={`/orgs/${props.org.id}/images`}
      csrfToken={props.csrfToken}
      error={props.form.formError}
      noValidate
    >
      <div class="grid gap-4 sm:grid-cols-2">
        <Field name="name" label="Name" required value={values.name} error={errors.name} />
        <Field
          as="select"
          name="format"
          label="Format"
          value={values.format ?? "qcow2"}
          error={errors.format}
          options={[
            { value: "qcow2", label: "qcow2" },
            { value: "raw", label: "raw" },
          ]}
        />
      </div>
      <Field
        name="url"
        label="URL"
        type="url"
        required
        value={values.url}
        error={errors.url}
        hint="Where hosts download it (http or https)."
      />
      <Field
        name="sha256"
        label="SHA-256"
        required
        value={values.sha256}
        error={errors.sha256}
        hint="64 lower-case hex digits; hosts verify the download against it."
        attrs={{ autocomplete: "off", spellcheck: "false" }}
      />
      <div class="grid gap-4 sm:grid-cols-2">
        <Field
          name="minDiskGb"
          label="Minimum disk (GB)"
          type="number"
          value={values.minDiskGb ?? "1"}
          error={errors.minDiskGb}
        />
        <Field
          as="select"
          name="projectId"
          label="Available in"
          value={values.projectId ?? ""}
          error={errors.projectId}
          options={[
            { value: "", label: "The whole organization" },
            ...props.projects.map((p) => ({ value: p.id, label: `Project ${p.name}` })),
          ]}
        />
      </div>
      <div class="flex items-center gap-2">
        <input
          type="checkbox"
          id="field-public"
          name="public"
          value="true"
          checked={values.public === "true"}
          class="h-4 w-4 rounded border-gray-300 text-indigo-600"
        />
        <label for="field-public" class="text-sm text-gray-900">
          Public: usable by every account on this installation
        </label>
      </div>
      <FormActions>
        <Button>Add image</Button>
      </FormActions>
    </Form>
  );
}

/** An organization's image catalog (plus public images), and for its admins the add form. */
export function ImagesPage(props: ImagesPageProps) {
  return (
    <div class="space-y-6">
      <PageHeader title="Images" description={`Images VMs in ${props.org.name} can start from.`} />
      <Card title="Catalog">
        <Table
          id="images"
          caption="Images"
          captionHidden
          rows={props.images}
          rowKey={(i) => i.id}
          empty={<p class="text-sm text-gray-500">No images yet.</p>}
          columns={[
            {
              header: "Name",
              cell: (i) => (
                <span class="font-medium text-gray-900">
                  {i.name} {i.public ? <Badge tone="blue">public</Badge> : null}
                </span>
              ),
            },
            { header: "Format", cell: (i) => i.format },
            { header: "Min disk", cell: (i) => `${i.minDiskGb} GB`, class: "hidden sm:table-cell" },
            { header: "Scope", cell: (i) => i.scope, class: "hidden md:table-cell" },
            {
              header: "Source",
              cell: (i) => (
                <span class="block max-w-xs truncate font-mono text-xs" title={i.url}>
                  {i.url}
                </span>
              ),
              class: "hidden lg:table-cell",
            },
            {
              header: "",
              class: "text-right",
              cell: (i) =>
                i.canDelete ? (
                  <form method="post" action={`/orgs/${props.org.id}/images/${i.id}/delete`}>
                    <CsrfInput token={props.csrfToken} />
                    <Button size="sm" variant="danger" attrs={{ "data-action": "delete-image" }}>
                      Delete
                    </Button>
                  </form>
                ) : null,
            },
          ]}
        />
      </Card>
      {props.canAdd ? (
        <Card title="Add an image">
          <ImageForm {...props} />
        </Card>
      ) : null}
    </div>
  );
}
