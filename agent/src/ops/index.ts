/**
 * VM operations for the agent's executor: `vmOpHandlers(deps)` gives one handler per op name
 * (params validated with zod), `VmOps#inventory()` the host's VMs for the status report.
 */
import { join } from "node:path";
import { ConsoleLog } from "../host/console-log";
import { toVmOpError, VmOpError } from "./errors";
import {
  CreateParams,
  NoParams,
  parseParams,
  ResizeParams,
  StopParams,
  type VmOpName,
} from "./params";
import type { ConsoleLogs, VmOpHandler, VmOpsDeps } from "./types";
import { VmOps } from "./vm-ops";

export { toVmOpError, VM_OP_ERROR_CODES, VmOpError, type VmOpErrorCode } from "./errors";
export {
  CreateParams,
  ResizeParams,
  StopParams,
  VM_OP_NAMES,
  VM_OP_PARAMS,
  type VmOpName,
  validateVmOpParams,
} from "./params";
export type { VmRecord } from "./records";
export type {
  ConsoleLogs,
  ImageStore,
  Observed,
  ObservedState,
  OpResult,
  VmNetworkConfig,
  VmOpContext,
  VmOpHandler,
  VmOpsDeps,
} from "./types";
export { type InventoryEntry, VmOps } from "./vm-ops";

/** Console logs as `<dir>/<vmId>.serial.log` (rotated beside it). */
export function consoleLogsIn(
  dir: string,
  options: { maxBytes: number; keep: number },
): ConsoleLogs {
  return (vmId) => new ConsoleLog({ path: join(dir, `${vmId}.serial.log`), ...options });
}

/**
 * The handlers by op name. Pass the `VmOps` the runtime also uses for `inventory()` (so both share
 * its per-VM lock), or the deps to make one. Every handler rejects with a `VmOpError` only.
 */
export function vmOpHandlers(from: VmOpsDeps | VmOps): Record<VmOpName, VmOpHandler> {
  const ops = from instanceof VmOps ? from : new VmOps(from);
  const guard =
    (fn: VmOpHandler): VmOpHandler =>
    async (params, ctx) => {
      try {
        return await fn(params, ctx);
      } catch (error) {
        throw error instanceof VmOpError ? error : toVmOpError(error);
      }
    };
  return {
    "vm.create": guard((p, ctx) => ops.create(parseParams("vm.create", CreateParams, p), ctx)),
    "vm.start": guard((p, ctx) => {
      parseParams("vm.start", NoParams, p);
      return ops.start(ctx);
    }),
    "vm.stop": guard((p, ctx) => ops.stop(parseParams("vm.stop", StopParams, p), ctx)),
    "vm.restart": guard((p, ctx) => {
      parseParams("vm.restart", NoParams, p);
      return ops.restart(ctx);
    }),
    "vm.pause": guard((p, ctx) => {
      parseParams("vm.pause", NoParams, p);
      return ops.pause(ctx);
    }),
    "vm.resume": guard((p, ctx) => {
      parseParams("vm.resume", NoParams, p);
      return ops.resume(ctx);
    }),
    "vm.resize": guard((p, ctx) => ops.resize(parseParams("vm.resize", ResizeParams, p), ctx)),
    "vm.delete": guard((p, ctx) => {
      parseParams("vm.delete", NoParams, p);
      return ops.delete(ctx);
    }),
  };
}

export { type ExecutorHandler, type ExecutorOutcome, executorHandlers } from "./executor-adapter";
