export { type ApiTimeouts, CloudHypervisorApi, DEFAULT_TIMEOUTS } from "./api";
export { CloudHypervisorDriver, type CloudHypervisorOptions } from "./driver";
export {
  CloudHypervisorApiError,
  CloudHypervisorError,
  VmmStartError,
  VmmTimeoutError,
  VmmUnavailableError,
  VmNotFoundError,
} from "./errors";
