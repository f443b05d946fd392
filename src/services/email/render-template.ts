import { ValidationError } from "../../lib/errors";

/**
 * Email templates use `{{ name }}` placeholders (optionally dotted: `{{ order.number }}`), nothing else:
 * no logic, no helpers, no partials, so a tenant's template can never run code or read anything but the
 * variables it was given. Values must be strings, numbers or booleans. In an HTML body every value is
 * HTML-escaped (a customer's name cannot inject markup); in the subject a value may not contain a line
 * break (header injection). A placeholder without a value is a 422 naming every missing variable.
 */

export interface TemplateSource {
  subject: string;
  bodyText: string;
  bodyHtml: string | null;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string | null;
}

type Segment = { kind: "text"; value: string } | { kind: "variable"; name: string };

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Splits a template into text and placeholders; `null` with the problem when it is malformed. */
function parse(source: string): { segments: Segment[] } | { problem: string } {
  const segments: Segment[] = [];
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? "";
    if (!NAME.test(name)) {
      return {
        problem: `"{{${name}}}" is not a variable name (letters, digits, _ and dots, e.g. {{order.number}})`,
      };
    }
    const text = source.slice(last, match.index);
    if (text.includes("{{") || text.includes("}}")) return { problem: "Unbalanced {{ or }}" };
    segments.push({ kind: "text", value: text }, { kind: "variable", name });
    last = match.index + match[0].length;
  }
  const tail = source.slice(last);
  if (tail.includes("{{") || tail.includes("}}")) return { problem: "Unbalanced {{ or }}" };
  segments.push({ kind: "text", value: tail });
  return { segments };
}

const FIELDS = { subject: "subject", bodyText: "bodyText", bodyHtml: "bodyHtml" } as const;

/** Checks every part of a template parses; a 422 naming the field otherwise. Returns the variables used. */
export function checkTemplate(source: TemplateSource): string[] {
  const errors: Record<string, string[]> = {};
  const names = new Set<string>();
  for (const [field, text] of partsOf(source)) {
    const parsed = parse(text);
    if ("problem" in parsed) errors[FIELDS[field]] = [parsed.problem];
    else for (const s of parsed.segments) if (s.kind === "variable") names.add(s.name);
  }
  if (Object.keys(errors).length > 0) throw new ValidationError("Invalid template", errors);
  return [...names].sort();
}

function partsOf(source: TemplateSource): [keyof typeof FIELDS, string][] {
  const parts: [keyof typeof FIELDS, string][] = [
    ["subject", source.subject],
    ["bodyText", source.bodyText],
  ];
  if (source.bodyHtml !== null) parts.push(["bodyHtml", source.bodyHtml]);
  return parts;
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

type Lookup = { found: true; value: string } | { found: false; reason: "missing" | "type" };

function lookUp(variables: Record<string, unknown>, name: string): Lookup {
  let current: unknown = variables;
  for (const key of name.split(".")) {
    if (
      current === null ||
      typeof current !== "object" ||
      Array.isArray(current) ||
      !Object.hasOwn(current, key)
    ) {
      return { found: false, reason: "missing" };
    }
    current = (current as Record<string, unknown>)[key];
  }
  if (typeof current === "string") return { found: true, value: current };
  if (typeof current === "number" && Number.isFinite(current)) return { found: true, value: String(current) };
  if (typeof current === "boolean") return { found: true, value: String(current) };
  if (current === null || current === undefined) return { found: false, reason: "missing" };
  return { found: false, reason: "type" };
}

export function renderTemplate(source: TemplateSource, variables: Record<string, unknown>): RenderedEmail {
  const errors: Record<string, string[]> = {};
  const addError = (key: string, message: string) => {
    errors[key] ??= [];
    if (!errors[key].includes(message)) errors[key].push(message);
  };
  const render = (field: keyof typeof FIELDS, text: string): string => {
    const parsed = parse(text);
    if ("problem" in parsed) {
      addError(FIELDS[field], parsed.problem);
      return "";
    }
    return parsed.segments
      .map((segment) => {
        if (segment.kind === "text") return segment.value;
        const hit = lookUp(variables, segment.name);
        if (!hit.found) {
          addError(
            `variables.${segment.name}`,
            hit.reason === "missing"
              ? "Missing: the template uses this variable"
              : "Must be a string, number or boolean",
          );
          return "";
        }
        if (field === "bodyHtml") return escapeHtml(hit.value);
        if (field === "subject" && /[\r\n]/.test(hit.value)) {
          addError(`variables.${segment.name}`, "Must not contain line breaks (it is used in the subject)");
          return "";
        }
        return hit.value;
      })
      .join("");
  };
  const subject = render("subject", source.subject);
  const text = render("bodyText", source.bodyText);
  const html = source.bodyHtml === null ? null : render("bodyHtml", source.bodyHtml);
  if (Object.keys(errors).length > 0) {
    throw new ValidationError("The template cannot be rendered with these variables", errors);
  }
  return { subject: subject.trim(), text, html };
}
