import { Card } from "../../components/card";
import { Field } from "../../components/field";
import { PasskeyForm } from "./passkey-form";

/** Username-less sign-in first (the authenticator offers its passkeys); email-first as a fallback. */
export function SignInPage(props: { next: string; signUpOpen: boolean }) {
  return (
    <div class="space-y-6">
      <Card title="Sign in">
        <PasskeyForm
          id="sign-in-passkey"
          kind="sign-in"
          optionsUrl="/api/v1/auth/sign-in/options"
          finishUrl="/api/v1/auth/sign-in"
          next={props.next}
          submitLabel="Sign in with a passkey"
        />
      </Card>
      <Card title="Sign in with your email">
        <PasskeyForm
          id="sign-in-email"
          kind="sign-in"
          optionsUrl="/api/v1/auth/sign-in/options"
          finishUrl="/api/v1/auth/sign-in"
          next={props.next}
          submitLabel="Continue"
        >
          <Field
            name="email"
            label="Email"
            type="email"
            required
            autocomplete="username webauthn"
          />
        </PasskeyForm>
      </Card>
      {props.signUpOpen ? (
        <p class="text-center text-sm text-gray-600">
          New here?{" "}
          <a class="font-medium text-indigo-700 hover:underline" href="/sign-up">
            Create an account
          </a>
        </p>
      ) : null}
    </div>
  );
}
