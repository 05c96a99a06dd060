export * from "./audit";
export * from "./authz";
export * from "./hosts";
export * from "./identity";
export * from "./settings";
export * from "./tenancy";
export * from "./vms";
export * from "./work";
