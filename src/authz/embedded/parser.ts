import { AuthzError } from "../authorizer";
import type { AttributeType, EntityDef, Expr, RelationType, RuleParam, Schema } from "./ast";
import { Lexer, type Token, type TokenKind } from "./lexer";

const BASE_TYPES = new Set(["boolean", "string", "integer", "double"]);
const OPERATORS = new Set(["and", "or", "not"]);

/**
 * Parses Permify DSL text into an AST (syntax only; `compileSchema` resolves references).
 *
 * Operator binding, source of truth: Permify's own parser, `pkg/dsl/parser/parser.go` (read, not
 * copied, at upstream commit 05fa43ca). Its precedence table gives AND, OR and NOT one level
 * (`AND_OR_NOT`) and registers all three only as infix operators, parsed Pratt-style with a
 * strict `<` on the next operator's level, so equal levels associate left.
 * Hence `a or b and c` = `(a or b) and c`, `a not b` = `a and not b`, and a prefix `not a` is a
 * syntax error. Parentheses group. A newline ends an expression unless it follows an operator,
 * `=` or `(`; inside parentheses we also accept newlines (a superset of Permify).
 */
export function parseSchema(dsl: string): Schema {
  return new Parser(dsl).parse();
}

class Parser {
  private readonly lexer: Lexer;
  private tok: Token;
  private parenDepth = 0;

  constructor(src: string) {
    this.lexer = new Lexer(src);
    this.tok = this.lexer.next();
  }

  parse(): Schema {
    const schema: Schema = { entities: new Map(), rules: new Map() };
    for (;;) {
      this.skipNewlines();
      if (this.at("eof")) return schema;
      const keyword = this.expectIdent();
      if (keyword === "entity") {
        const entity = this.parseEntity();
        if (schema.entities.has(entity.name)) this.fail(`duplicate entity ${entity.name}`);
        schema.entities.set(entity.name, entity);
      } else if (keyword === "rule") {
        this.parseRule(schema);
      } else {
        this.fail(`expected 'entity' or 'rule', got '${keyword}'`);
      }
    }
  }

  private parseEntity(): EntityDef {
    const name = this.expectIdent();
    const entity: EntityDef = {
      name,
      relations: new Map(),
      attributes: new Map(),
      permissions: new Map(),
    };
    this.expect("{");
    for (;;) {
      this.skipNewlines();
      if (this.at("}")) {
        this.advance();
        return entity;
      }
      const keyword = this.expectIdent();
      const member = this.expectIdent();
      if (
        entity.relations.has(member) ||
        entity.attributes.has(member) ||
        entity.permissions.has(member)
      ) {
        this.fail(`duplicate member ${name}.${member}`);
      }
      if (keyword === "relation") {
        entity.relations.set(member, { name: member, types: this.parseRelationTypes() });
      } else if (keyword === "attribute") {
        entity.attributes.set(member, { name: member, type: this.parseType() });
      } else if (keyword === "permission" || keyword === "action") {
        this.expect("=");
        const expr = this.parseExpr();
        entity.permissions.set(member, { name: member, expr, action: keyword === "action" });
      } else {
        this.fail(`expected relation, attribute, permission or action, got '${keyword}'`);
      }
      this.endOfStatement();
    }
  }

  private parseRelationTypes(): RelationType[] {
    const types: RelationType[] = [];
    while (this.at("@")) {
      this.advance();
      const type = this.expectIdent();
      if (this.at("#")) {
        this.advance();
        types.push({ type, relation: this.expectIdent() });
      } else {
        types.push({ type });
      }
    }
    if (types.length === 0) this.fail("relation needs at least one @type");
    return types;
  }

  private parseType(): AttributeType {
    const base = this.expectIdent();
    if (!BASE_TYPES.has(base)) this.fail(`unknown attribute type '${base}'`);
    let array = false;
    if (this.at("[")) {
      this.advance();
      this.expect("]");
      array = true;
    }
    return { base: base as AttributeType["base"], array };
  }

  private parseRule(schema: Schema): void {
    const name = this.expectIdent();
    if (schema.rules.has(name)) this.fail(`duplicate rule ${name}`);
    this.expect("(");
    const params: RuleParam[] = [];
    while (!this.at(")")) {
      if (params.length > 0) this.expect(",");
      params.push({ name: this.expectIdent(), type: this.parseType() });
    }
    // Do not advance past `{` with the DSL lexer: the body is CEL, taken verbatim.
    this.expect(")");
    if (!this.at("{")) this.fail("expected '{' to open the rule body");
    const body = this.lexer.readRawBlock().trim();
    this.tok = this.lexer.next();
    schema.rules.set(name, { name, params, body });
  }

  /** Permify semantics: one precedence level, left-associative (see the header comment). */
  private parseExpr(): Expr {
    let left = this.parsePrimary();
    for (;;) {
      if (this.parenDepth > 0) this.skipNewlines();
      if (!this.at("ident") || !OPERATORS.has(this.tok.text)) return left;
      const op = this.tok.text as "and" | "or" | "not";
      this.advance();
      this.skipNewlines();
      left = { kind: "op", op, left, right: this.parsePrimary() };
    }
  }

  private parsePrimary(): Expr {
    this.skipNewlines();
    if (this.at("(")) {
      this.advance();
      this.parenDepth++;
      const inner = this.parseExpr();
      this.skipNewlines();
      this.expect(")");
      this.parenDepth--;
      return inner;
    }
    const name = this.expectIdent();
    if (OPERATORS.has(name)) this.fail(`operator '${name}' needs a left operand`);
    if (this.at("(")) {
      this.advance();
      const args: string[] = [];
      while (!this.at(")")) {
        if (args.length > 0) this.expect(",");
        args.push(this.dottedName());
      }
      this.advance();
      return { kind: "call", rule: name, args };
    }
    if (!this.at(".")) return { kind: "leaf", name };
    this.advance();
    const target = this.expectIdent();
    if (this.at(".")) {
      throw new AuthzError(
        "unsupported",
        `multi-level arrow '${name}.${target}.…' is not supported`,
      );
    }
    return { kind: "arrow", relation: name, target };
  }

  private dottedName(): string {
    let name = this.expectIdent();
    while (this.at(".")) {
      this.advance();
      name += `.${this.expectIdent()}`;
    }
    return name;
  }

  private endOfStatement(): void {
    const kind = this.tok.kind;
    if (kind !== "newline" && kind !== "}" && kind !== "eof") this.fail("expected end of line");
  }

  /** A method, not a field test, so TypeScript does not narrow `tok` across `advance()`. */
  private at(kind: TokenKind): boolean {
    return this.tok.kind === kind;
  }

  private skipNewlines(): void {
    while (this.at("newline")) this.advance();
  }

  private advance(): void {
    this.tok = this.lexer.next();
  }

  private expect(kind: TokenKind): void {
    if (this.tok.kind !== kind) this.fail(`expected '${kind}'`);
    this.advance();
  }

  private expectIdent(): string {
    if (!this.at("ident")) this.fail("expected a name");
    const text = this.tok.text;
    this.advance();
    return text;
  }

  private fail(message: string): never {
    const shown = this.at("ident") ? this.tok.text : this.tok.kind;
    throw new AuthzError(
      "schema_invalid",
      `${this.tok.line}:${this.tok.col}: ${message} (at '${shown}')`,
    );
  }
}
