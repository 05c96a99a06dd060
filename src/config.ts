import { z } from "zod";

/**
 * Runtime configuration. Entry points parse their environment (process.env or Worker bindings) with
 * `parseConfig` once; nothing below them reads the environment.
 */
const ConfigSchema = z.object({
  STRATO_ENV: z.enum(["development", "production", "test"]).default("production"),
  STRATO_VERSION: z.string().min(1).default("0.1.0"),
  DATABASE_URL: z
    .string()
    .min(1, "DATABASE_URL is required (e.g. file:.data/strato.db or https://…)"),
  DATABASE_AUTH_TOKEN: z.string().min(1).optional(),
  /** Largest request body the API accepts, in bytes. */
  STRATO_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
});

/** Which entry point is running the app; reported by /api/v1/info. */
export type Runtime = "workers" | "node";

export type AppConfig = {
  runtime: Runtime;
  environment: "development" | "production" | "test";
  version: string;
  databaseUrl: string;
  databaseAuthToken: string | undefined;
  maxBodyBytes: number;
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses `env` with `schema`, or throws a ConfigError naming each bad variable. */
export function parseEnv<T extends z.ZodType>(schema: T, env: Record<string, unknown>): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

export function parseConfig(env: Record<string, unknown>, runtime: Runtime): AppConfig {
  const c = parseEnv(ConfigSchema, env);
  return {
    runtime,
    environment: c.STRATO_ENV,
    version: c.STRATO_VERSION,
    databaseUrl: c.DATABASE_URL,
    databaseAuthToken: c.DATABASE_AUTH_TOKEN,
    maxBodyBytes: c.STRATO_MAX_BODY_BYTES,
  };
}
