import { Card } from "../../components/card";
import { Field } from "../../components/field";
import { PasskeyForm } from "./passkey-form";

/** The first visit of a fresh installation: the set-up code makes this person platform admin. */
export function SetupPage() {
  return (
    <Card title="Set up Strato">
      <p class="mb-4 text-sm text-gray-600">
        Enter the one-time set-up code the server printed when it started, then create your passkey.
        You will be the platform administrator.
      </p>
      <PasskeyForm
        kind="sign-up"
        optionsUrl="/api/v1/auth/sign-up/options"
        finishUrl="/api/v1/auth/sign-up"
        next="/"
        submitLabel="Create admin account with a passkey"
      >
        <Field
          name="setupCode"
          label="Set-up code"
          required
          autocomplete="one-time-code"
          placeholder="XXXXX-XXXXX-XXXXX-XXXXX"
        />
        <Field name="email" label="Email" type="email" required autocomplete="username" />
        <Field name="displayName" label="Your name" required autocomplete="name" />
      </PasskeyForm>
    </Card>
  );
}
