import { Card } from "../../components/card";
import { Field } from "../../components/field";
import { PasskeyForm } from "./passkey-form";

/** Account creation: by invitation (email fixed by the invitation) or open sign-up. */
export function SignUpPage(props: {
  invitation?: { secret: string; email: string; orgName: string };
}) {
  const inv = props.invitation;
  return (
    <Card title={inv ? `Join ${inv.orgName}` : "Create your account"}>
      <p class="mb-4 text-sm text-gray-600">
        Strato has no passwords: your browser or security key keeps a passkey for this site.
      </p>
      <PasskeyForm
        kind="sign-up"
        optionsUrl="/api/v1/auth/sign-up/options"
        finishUrl="/api/v1/auth/sign-up"
        next="/"
        submitLabel="Create account with a passkey"
      >
        {inv ? <input type="hidden" name="invitation" value={inv.secret} /> : null}
        <Field
          name="email"
          label="Email"
          type="email"
          required
          autocomplete="username"
          value={inv?.email}
          attrs={inv ? { readonly: "" } : {}}
        />
        <Field name="displayName" label="Your name" required autocomplete="name" />
      </PasskeyForm>
    </Card>
  );
}
