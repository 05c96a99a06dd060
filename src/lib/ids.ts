import type { Clock } from "./clock";
import type { Random } from "./random";

/** Every id prefix in one table, so logs and URLs say what they point at. */
export const ID_PREFIXES = {
  request: "req",
  user: "usr",
  organization: "org",
  project: "prj",
  host: "host",
  vm: "vm",
  operation: "op",
  workItem: "wi",
  audit: "aud",
  passkey: "pk",
  challenge: "chl",
  session: "ses",
  invitation: "inv",
  apiToken: "tok",
  image: "img",
  enrollmentToken: "enr",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

export interface Ids {
  /** A new id such as `vm_01jd7x…`: time-ordered, then 80 random bits. */
  next(kind: IdKind): string;
}

// Crockford base32: sortable, no ambiguous letters, safe in URLs and DNS labels.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** ULID-style body: 10 chars of milliseconds then 16 chars of randomness (lexically sortable). */
export function createIds(clock: Clock, random: Random): Ids {
  return {
    next(kind) {
      let time = clock.now();
      let stamp = "";
      for (let i = 0; i < 10; i++) {
        stamp = ALPHABET.charAt(time % 32) + stamp;
        time = Math.floor(time / 32);
      }
      let tail = "";
      for (const byte of random.bytes(16)) tail += ALPHABET.charAt(byte % 32);
      return `${ID_PREFIXES[kind]}_${stamp}${tail}`;
    },
  };
}
