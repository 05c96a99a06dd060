/** JSON values where every integer literal is a bigint (CH's u64 counters exceed 2^53). */
export type BigJson =
  | null
  | boolean
  | string
  | number
  | bigint
  | BigJson[]
  | { [key: string]: BigJson };

/**
 * A small JSON parser that keeps integers exact as bigint and parses fractions as numbers.
 * Used for `vm.counters`, whose values reach u64::MAX.
 */
export function parseBigJson(text: string): BigJson {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`invalid JSON at ${i}: ${what}`);
  };
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text.charAt(i))) i++;
  };
  const value = (): BigJson => {
    ws();
    const c = text.charAt(i);
    if (c === "{") {
      i++;
      const out: { [key: string]: BigJson } = {};
      ws();
      if (text.charAt(i) === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        const key = string();
        ws();
        if (text.charAt(i++) !== ":") fail("expected ':'");
        out[key] = value();
        ws();
        const next = text.charAt(i++);
        if (next === "}") return out;
        if (next !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out: BigJson[] = [];
      ws();
      if (text.charAt(i) === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        const next = text.charAt(i++);
        if (next === "]") return out;
        if (next !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match) return fail("unexpected character");
    i += match[0].length;
    return match[2] || match[3] ? Number(match[0]) : BigInt(match[0]);
  };
  const string = (): string => {
    if (text.charAt(i) !== '"') fail("expected string");
    const start = i;
    i++;
    while (i < text.length && text.charAt(i) !== '"') i += text.charAt(i) === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const result = value();
  ws();
  if (i !== text.length) fail("trailing characters");
  return result;
}
