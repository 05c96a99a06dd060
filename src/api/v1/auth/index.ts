import type { Router } from "../../router";
import { registerAccount } from "./account";
import { registerSignIn } from "./sign-in";
import { registerSignUp } from "./sign-up";

/** Passkey sign-up and sign-in, sign-out, and the signed-in person's sessions and passkeys. */
export function registerAuth(app: Router): void {
  registerSignUp(app);
  registerSignIn(app);
  registerAccount(app);
}
