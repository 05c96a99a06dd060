export type { LibsqlHttpServer, LibsqlHttpServerOptions } from "./server";
export { startLibsqlHttpServer } from "./server";
