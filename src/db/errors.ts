/**
 * Whether a failed statement or batch failed with `message` (a constraint's text, which is how
 * SQLite names it): the libSQL clients wrap the engine's error, so the causes are looked at too.
 */
export function failedWith(err: unknown, message: string | RegExp): boolean {
  let current: unknown = err;
  for (let i = 0; i < 4 && current instanceof Error; i++) {
    const text = current.message;
    if (typeof message === "string" ? text.includes(message) : message.test(text)) return true;
    current = current.cause;
  }
  return false;
}
