import type { Attribute, AttributeValue, EntityRef, SubjectRef, Tuple } from "../authorizer";

/** Parsers for Permify's string notations used by validation files. Errors are plain `Error`s. */

export function parseEntity(text: string): EntityRef {
  const colon = text.indexOf(":");
  const type = text.slice(0, colon);
  const id = text.slice(colon + 1);
  if (colon <= 0 || id === "") throw new Error(`invalid entity '${text}', expected type:id`);
  return { type, id };
}

/** `type:id` or `type:id#relation`. */
export function parseSubject(text: string): SubjectRef {
  const hash = text.indexOf("#");
  const entity = parseEntity(hash < 0 ? text : text.slice(0, hash));
  if (hash < 0) return entity;
  const relation = text.slice(hash + 1);
  if (relation === "") throw new Error(`invalid subject '${text}'`);
  return relation === "..." ? entity : { ...entity, relation };
}

/** `entity:id#relation@subject:id[#relation]`. */
export function parseTuple(text: string): Tuple {
  const trimmed = text.trim();
  const at = trimmed.indexOf("@");
  const hash = trimmed.lastIndexOf("#", at);
  if (at < 0 || hash < 0) throw new Error(`invalid relationship '${text}'`);
  const relation = trimmed.slice(hash + 1, at);
  if (relation === "") throw new Error(`invalid relationship '${text}'`);
  return {
    entity: parseEntity(trimmed.slice(0, hash)),
    relation,
    subject: parseSubject(trimmed.slice(at + 1)),
  };
}

/** `entity:id$attribute|type:value`; arrays are `type[]:a,b`. */
export function parseAttribute(text: string): Attribute {
  const trimmed = text.trim();
  const dollar = trimmed.indexOf("$");
  const bar = trimmed.indexOf("|", dollar);
  const colon = trimmed.indexOf(":", bar);
  if (dollar < 0 || bar < 0 || colon < 0) throw new Error(`invalid attribute '${text}'`);
  const type = trimmed.slice(bar + 1, colon);
  const raw = trimmed.slice(colon + 1);
  return {
    entity: parseEntity(trimmed.slice(0, dollar)),
    attribute: trimmed.slice(dollar + 1, bar),
    value: parseValue(type, raw, text),
  };
}

function parseValue(type: string, raw: string, text: string): AttributeValue {
  const array = type.endsWith("[]");
  const base = array ? type.slice(0, -2) : type;
  const parts = array ? (raw === "" ? [] : raw.split(",").map((s) => s.trim())) : [raw.trim()];
  switch (base) {
    case "boolean": {
      const values = parts.map((p) => {
        if (p !== "true" && p !== "false") throw new Error(`invalid boolean in '${text}'`);
        return p === "true";
      });
      return array ? values : (values[0] ?? false);
    }
    case "string":
      return array ? parts : (parts[0] ?? "");
    case "integer":
    case "double": {
      const values = parts.map((p) => {
        const n = Number(p);
        if (p === "" || !Number.isFinite(n) || (base === "integer" && !Number.isInteger(n))) {
          throw new Error(`invalid ${base} in '${text}'`);
        }
        return n;
      });
      return array ? values : (values[0] ?? 0);
    }
    default:
      throw new Error(`unknown attribute type '${type}' in '${text}'`);
  }
}

export function formatSubject(s: SubjectRef): string {
  return s.relation ? `${s.type}:${s.id}#${s.relation}` : `${s.type}:${s.id}`;
}
