import { AuthzError } from "../authorizer";

export type TokenKind =
  | "ident"
  | "newline"
  | "eof"
  | "@"
  | "#"
  | "."
  | "("
  | ")"
  | "{"
  | "}"
  | "["
  | "]"
  | ","
  | "=";

export type Token = { kind: TokenKind; text: string; line: number; col: number };

const PUNCT = new Set(["@", "#", ".", "(", ")", "{", "}", "[", "]", ",", "="]);

/**
 * On-demand lexer for the Permify DSL. On demand so that the parser can take a rule body as raw
 * CEL text (`readRawBlock`) without this lexer having to understand CEL's tokens.
 * Newlines are tokens because a permission expression ends at the end of its line.
 */
export class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly src: string) {}

  next(): Token {
    this.skipSpaceAndComments();
    const line = this.line;
    const col = this.pos - this.lineStart + 1;
    if (this.pos >= this.src.length) return { kind: "eof", text: "", line, col };
    const ch = this.src[this.pos] ?? "";
    if (ch === "\n") {
      this.pos++;
      this.line++;
      this.lineStart = this.pos;
      return { kind: "newline", text: "\n", line, col };
    }
    if (PUNCT.has(ch)) {
      this.pos++;
      return { kind: ch as TokenKind, text: ch, line, col };
    }
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos, this.pos + 256));
    if (!match) {
      throw new AuthzError("schema_invalid", `${line}:${col}: unexpected character '${ch}'`);
    }
    this.pos += match[0].length;
    return { kind: "ident", text: match[0], line, col };
  }

  /** Returns the text up to the `}` that closes an already-consumed `{`, and consumes that `}`. */
  readRawBlock(): string {
    let depth = 1;
    const start = this.pos;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos];
      if (ch === "\n") {
        this.line++;
        this.lineStart = this.pos + 1;
      } else if (ch === "{") depth++;
      else if (ch === "}") {
        depth--;
        if (depth === 0) {
          const body = this.src.slice(start, this.pos);
          this.pos++;
          return body;
        }
      }
      this.pos++;
    }
    throw new AuthzError("schema_invalid", `${this.line}: unterminated rule body`);
  }

  private skipSpaceAndComments(): void {
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === " " || ch === "\t" || ch === "\r") {
        this.pos++;
      } else if (ch === "/" && this.src[this.pos + 1] === "/") {
        while (this.pos < this.src.length && this.src[this.pos] !== "\n") this.pos++;
      } else if (ch === "/" && this.src[this.pos + 1] === "*") {
        const end = this.src.indexOf("*/", this.pos + 2);
        if (end < 0) throw new AuthzError("schema_invalid", `${this.line}: unterminated comment`);
        for (let i = this.pos; i < end; i++) {
          if (this.src[i] === "\n") {
            this.line++;
            this.lineStart = i + 1;
          }
        }
        this.pos = end + 2;
      } else {
        return;
      }
    }
  }
}
