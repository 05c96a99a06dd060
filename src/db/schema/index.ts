export * from "./authz";
export * from "./settings";
