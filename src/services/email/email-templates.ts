import { sql } from "drizzle-orm";
import { PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { isoOf } from "../users/caller";
import { emailTenantOf } from "./email-model";
import { checkTemplate, type RenderedEmail, renderTemplate } from "./render-template";

/**
 * A tenant's email templates (`ticket_reply`, `order_shipped`, …). Reading and previewing need
 * `email:send` (whoever sends picks a template); creating, replacing and deleting need `email:admin`.
 */
export interface EmailTemplateView {
  id: string;
  key: string;
  name: string;
  subject: string;
  bodyText: string;
  bodyHtml: string | null;
  /** The `{{variables}}` the template uses, sorted: what a send must provide. */
  variables: string[];
  createdAt: string;
  updatedAt: string;
}

export interface EmailTemplateInput {
  key: string;
  name: string;
  subject: string;
  bodyText: string;
  bodyHtml?: string | null | undefined;
}

interface TemplateRow extends Record<string, unknown> {
  id: string;
  key: string;
  name: string;
  subject: string;
  body_text: string;
  body_html: string | null;
  created_at: string | Date;
  updated_at: string | Date;
}

const COLUMNS = sql.raw("id, key, name, subject, body_text, body_html, created_at, updated_at");

function toView(row: TemplateRow): EmailTemplateView {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    subject: row.subject,
    bodyText: row.body_text,
    bodyHtml: row.body_html,
    variables: checkTemplate({ subject: row.subject, bodyText: row.body_text, bodyHtml: row.body_html }),
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

function checked(input: EmailTemplateInput): EmailTemplateInput & { bodyHtml: string | null } {
  if (/[\r\n]/.test(input.subject)) {
    throw new ValidationError("Invalid template", { subject: ["Must not contain line breaks"] });
  }
  const template = { ...input, bodyHtml: input.bodyHtml ?? null };
  checkTemplate({ subject: template.subject, bodyText: template.bodyText, bodyHtml: template.bodyHtml });
  return template;
}

function keyConflict(error: unknown): never {
  const pg = pgErrorOf(error);
  if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "email_templates_tenant_key_key") {
    throw new ConflictError("An email template with this key already exists", { details: { field: "key" } });
  }
  throw error;
}

export async function listEmailTemplates({ ctx }: { ctx: ServiceContext }): Promise<EmailTemplateView[]> {
  const t = emailTenantOf(ctx, "email:send");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<TemplateRow>(
      sql`select ${COLUMNS} from email_templates where tenant_id = ${t} order by key limit 500`,
    ),
  ]);
  return result.rows.map(toView);
}

export async function getEmailTemplate({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<EmailTemplateView> {
  const t = emailTenantOf(ctx, "email:send");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<TemplateRow>(
      sql`select ${COLUMNS} from email_templates where tenant_id = ${t} and id = ${input.id}`,
    ),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Email template not found");
  return toView(row);
}

export async function createEmailTemplate({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: EmailTemplateInput;
}): Promise<EmailTemplateView> {
  const t = emailTenantOf(ctx, "email:admin");
  const template = checked(input);
  try {
    const [result] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<TemplateRow>(sql`
        insert into email_templates (tenant_id, key, name, subject, body_text, body_html)
        values (${t}, ${template.key}, ${template.name}, ${template.subject}, ${template.bodyText}, ${template.bodyHtml})
        returning ${COLUMNS}`),
    ]);
    const row = result.rows[0];
    if (!row) throw new Error("insert returned no row");
    return toView(row);
  } catch (error) {
    return keyConflict(error);
  }
}

/** Replaces the template whole (key included). */
export async function replaceEmailTemplate({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: EmailTemplateInput & { id: string };
}): Promise<EmailTemplateView> {
  const t = emailTenantOf(ctx, "email:admin");
  const template = checked(input);
  let row: TemplateRow | undefined;
  try {
    const [result] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<TemplateRow>(sql`
        update email_templates
           set key = ${template.key}, name = ${template.name}, subject = ${template.subject},
               body_text = ${template.bodyText}, body_html = ${template.bodyHtml}, updated_at = now()
         where tenant_id = ${t} and id = ${input.id}
     returning ${COLUMNS}`),
    ]);
    row = result.rows[0];
  } catch (error) {
    keyConflict(error);
  }
  if (!row) throw new NotFoundError("Email template not found");
  return toView(row);
}

export async function deleteEmailTemplate({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<{ deleted: true }> {
  const t = emailTenantOf(ctx, "email:admin");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ id: string }>(
      sql`delete from email_templates where tenant_id = ${t} and id = ${input.id} returning id`,
    ),
  ]);
  if (!result.rows[0]) throw new NotFoundError("Email template not found");
  return { deleted: true };
}

/** The template rendered with `variables`, exactly as a send would render it (missing ones → 422). */
export async function previewEmailTemplate({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; variables: Record<string, unknown> };
}): Promise<RenderedEmail> {
  const template = await getEmailTemplate({ ctx, input: { id: input.id } });
  return renderTemplate(template, input.variables);
}
