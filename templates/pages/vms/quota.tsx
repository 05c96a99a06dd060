import { Button } from "../../components/button";
import { Card, PageHeader } from "../../components/card";
import { Field } from "../../components/field";
import { Form, FormActions, type FormState } from "../../components/form";
import { QuotaBars, type QuotaView } from "./parts";

export type QuotaPageProps = {
  project: { id: string; name: string };
  quota: QuotaView;
  canEdit: boolean;
  csrfToken: string;
  form: FormState;
};

/** The limits form (organization admins); htmx swaps its 422 re-render over it. */
export function QuotaForm(props: QuotaPageProps) {
  const { values, errors } = props.form;
  return (
    <Form
      id="quota-form"
      action={`/projects/${props.project.id}/quota`}
      csrfToken={props.csrfToken}
      error={props.form.formError}
      noValidate
    >
      <div class="grid gap-4 sm:grid-cols-2">
        <Field
          name="maxVms"
          label="VMs"
          type="number"
          value={values.maxVms}
          error={errors.maxVms}
        />
        <Field
          name="maxVcpus"
          label="vCPUs"
          type="number"
          value={values.maxVcpus}
          error={errors.maxVcpus}
        />
        <Field
          name="maxMemoryMb"
          label="Memory (MiB)"
          type="number"
          value={values.maxMemoryMb}
          error={errors.maxMemoryMb}
        />
        <Field
          name="maxDiskGb"
          label="Disk (GB)"
          type="number"
          value={values.maxDiskGb}
          error={errors.maxDiskGb}
        />
      </div>
      <p class="text-sm text-gray-500">
        Lowering a limit below what is in use only blocks new VMs; running ones stay.
      </p>
      <FormActions>
        <Button>Save limits</Button>
      </FormActions>
    </Form>
  );
}

export function QuotaPage(props: QuotaPageProps) {
  return (
    <div class="space-y-6">
      <PageHeader
        title="Quota"
        description={
          <>
            Limits of project{" "}
            <a class="text-indigo-700 hover:underline" href={`/projects/${props.project.id}/vms`}>
              {props.project.name}
            </a>{" "}
            and what its VMs use.
          </>
        }
      />
      <Card title="Usage">
        <QuotaBars quota={props.quota} />
      </Card>
      {props.canEdit ? (
        <Card title="Limits">
          <QuotaForm {...props} />
        </Card>
      ) : null}
    </div>
  );
}
