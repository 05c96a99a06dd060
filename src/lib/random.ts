/** The randomness seam: ids, tokens and secrets come from `deps.random`, so tests can be repeatable. */
export interface Random {
  bytes(length: number): Uint8Array;
}

/** Web Crypto is available on Workers and on Node >= 19, so one implementation serves both. */
export const cryptoRandom: Random = {
  bytes(length) {
    const out = new Uint8Array(length);
    crypto.getRandomValues(out);
    return out;
  },
};
