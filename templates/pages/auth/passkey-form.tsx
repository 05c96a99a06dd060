import type { Child } from "hono/jsx";
import { Button } from "../../components/button";

export type PasskeyFormProps = {
  kind: "sign-up" | "sign-in" | "add";
  optionsUrl: string;
  finishUrl: string;
  next: string;
  submitLabel: string;
  id?: string;
  children?: Child;
};

/**
 * A form whose submit runs a passkey ceremony in the browser (public/static/js/passkeys.js): the
 * fields go to `optionsUrl`, the authenticator's answer to `finishUrl`, then the browser goes to
 * `next`. Errors appear inline under their fields.
 */
export function PasskeyForm(props: PasskeyFormProps) {
  return (
    <form
      id={props.id}
      class="space-y-4"
      novalidate
      data-passkey={props.kind}
      data-options-url={props.optionsUrl}
      data-finish-url={props.finishUrl}
      data-next={props.next}
    >
      {props.children}
      <Button class="w-full justify-center">{props.submitLabel}</Button>
    </form>
  );
}
