import type { Router } from "../router";
import { registerAgentDoorbell } from "./connect";
import { registerAgentEnrollment } from "./enroll";
import { registerAgentKeys } from "./keys";
import { registerAgentSession } from "./session";
import { registerAgentWork } from "./work";

/** Every agent endpoint (`/api/v1/agent/*`, design §2.3). */
export function registerAgentApi(app: Router): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "agentAccessToken", {
    type: "http",
    scheme: "bearer",
    description: "Access token from POST /api/v1/agent/token",
  });
  registerAgentEnrollment(app);
  registerAgentSession(app);
  registerAgentKeys(app);
  registerAgentWork(app);
  registerAgentDoorbell(app);
}
