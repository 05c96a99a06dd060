/** `npm run authz:validate -- …`: the same as `strato authz validate …` (src/node/cli). */
import { authzValidate } from "../src/node/cli/authz-validate";

process.exitCode = await authzValidate(process.argv.slice(2));
