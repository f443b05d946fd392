import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { authenticate, requirePermission } from "../../http/auth";
import { successBody } from "../../http/envelope";
import {
  authErrorResponses,
  bearerSecurity,
  bodyErrors,
  commonErrorResponses,
  envelopeOf,
  errorResponse,
  IdParamSchema,
  jsonContent,
  PageQuerySchema,
  pageOf,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { getEmail, listEmails } from "../../services/email/email-messages";
import { EMAIL_STATUSES } from "../../services/email/email-model";
import {
  createEmailTemplate,
  deleteEmailTemplate,
  getEmailTemplate,
  listEmailTemplates,
  previewEmailTemplate,
  replaceEmailTemplate,
} from "../../services/email/email-templates";
import { MAX_RECIPIENTS, sendEmail } from "../../services/email/send-email";
import { multiValueQuery } from "../orders";

/** `/api/v1/emails`: send an email through the tenant's SMTP connection, and the record of every one. */
export const emailsApp = newApp();
/** `/api/v1/email-templates`: the tenant's templates, with `{{variable}}` placeholders. */
export const emailTemplatesApp = newApp();

const tags = ["Email"];
const Iso = z.iso.datetime();
const sender = () => [authenticate(), requirePermission("email:send"), rateLimit("default")];
const admin = () => [authenticate(), requirePermission("email:admin"), rateLimit("default")];

const ErrorJson = z.record(z.string(), z.unknown());

const EmailSchema = z
  .object({
    id: z.uuid(),
    connectionId: z.uuid().nullable(),
    ticketId: z.uuid().nullable(),
    templateKey: z.string().nullable(),
    from: z.string().meta({ example: "support@acme.example" }),
    to: z.array(z.string()),
    cc: z.array(z.string()),
    subject: z.string(),
    status: z.enum(EMAIL_STATUSES).meta({
      description:
        "`queued`: waiting for its next attempt (`error` = the last transient failure, `nextAttemptAt` = when); " +
        "`sending`: an attempt is running; `sent`: the server accepted it (`smtpResponse`; `error` lists refused " +
        "recipients, if any); `failed`: final, `error` says why",
    }),
    messageId: z.string().nullable().meta({
      description: "The Message-ID header set by Tradewind (stable across retries)",
      example: "<0b7c9d2e-5f1a-4c3b-8e6d-9a0f1b2c3d4e@acme.example>",
    }),
    smtpResponse: z.string().nullable().meta({ example: "250 2.0.0 Ok: queued as 4BQ9Z2kRxyz" }),
    error: ErrorJson.nullable().meta({
      description:
        "`{ code, class (transient|permanent|auth), retryable, step, message, reply, enhancedCode, rejectedRecipients? }` — never a credential",
    }),
    attempts: z.number().int(),
    idempotencyKey: z.string().nullable(),
    nextAttemptAt: Iso.nullable(),
    sentAt: Iso.nullable(),
    createdAt: Iso,
    updatedAt: Iso,
  })
  .meta({ id: "EmailMessage" });

const EmailDetailSchema = EmailSchema.extend({
  bodyText: z.string().nullable(),
  bodyHtml: z.string().nullable().meta({
    description:
      "Null, like bodyText, when served from the cache during a database outage (X-Degraded: cache)",
  }),
}).meta({ id: "EmailMessageDetail" });

const Address = z.email().max(254);
const Variables = z.record(z.string(), z.unknown()).meta({
  description:
    "Values for the template's `{{variables}}` (strings, numbers, booleans; nested objects for dotted names)",
});

const SendEmailSchema = z
  .strictObject({
    to: z.array(Address).min(1).max(MAX_RECIPIENTS),
    cc: z.array(Address).max(MAX_RECIPIENTS).optional(),
    subject: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .optional()
      .meta({ description: "Required without templateKey" }),
    text: z.string().max(500_000).optional(),
    html: z.string().max(900_000).optional(),
    templateKey: z.string().min(1).max(100).optional().meta({
      description: "Render this template instead of giving subject/text/html",
      example: "order_shipped",
    }),
    variables: Variables.optional(),
    ticketId: z.uuid().toLowerCase().optional(),
    connectionId: z.uuid().toLowerCase().optional().meta({
      description: "The SMTP connection that sends it; default: the tenant's only enabled email connection",
    }),
    idempotencyKey: z
      .string()
      .regex(/^[\x21-\x7e]{1,255}$/, "Use 1-255 visible ASCII characters")
      .optional()
      .meta({
        description:
          "Kept with the email for good: the same key returns the same email and never sends again; with a different email it is a 422",
      }),
  })
  .meta({ id: "SendEmailRequest" });

emailsApp.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Send an email",
    description:
      "Records the email, then sends it through the tenant's SMTP connection (STARTTLS or TLS, AUTH). " +
      "200: final (`sent`, or `failed` with the reason in `error`); 202: accepted and still being delivered " +
      "(a transient failure is retried with backoff: `status` `queued`, `nextAttemptAt`). With a template, the " +
      "subject and bodies come from it and every variable it uses must be given.",
    security: bearerSecurity,
    middleware: sender(),
    request: { body: { required: true, content: { "application/json": { schema: SendEmailSchema } } } },
    responses: {
      200: jsonContent(envelopeOf(EmailSchema), "Sent, or failed for good (see status and error)"),
      202: jsonContent(envelopeOf(EmailSchema), "Accepted; delivery continues (queued for a retry)"),
      412: errorResponse("No usable email connection (none, disabled, or plain text outside development)"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const email = await sendEmail({ ctx: c.var.services, input: c.req.valid("json") });
    const final = email.status === "sent" || email.status === "failed";
    return final ? c.json(successBody(c, email), 200) : c.json(successBody(c, email), 202);
  },
);

const ListEmailsQuerySchema = PageQuerySchema.extend({
  status: multiValueQuery(EMAIL_STATUSES, "One status or several (`status=failed&status=queued`)").optional(),
  ticketId: z.uuid().toLowerCase().optional(),
});

emailsApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List emails",
    description: "Newest first, page/offset paged (`{ items, total, page, pageSize, totalPages }`).",
    security: bearerSecurity,
    middleware: sender(),
    request: { query: ListEmailsQuerySchema },
    responses: {
      200: jsonContent(envelopeOf(pageOf(EmailSchema).meta({ id: "EmailMessagePage" })), "A page of emails"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listEmails({
      ctx: c.var.services,
      input: { page: q.page, pageSize: q.pageSize, status: q.status, ticketId: q.ticketId },
    });
    return c.json(successBody(c, page), 200);
  },
);

emailsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "Get an email with its bodies",
    security: bearerSecurity,
    middleware: sender(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(EmailDetailSchema), "The email"),
      404: errorResponse("No such email in this tenant"),
      503: errorResponse("Database unavailable and no cached status"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const email = await getEmail({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, email), 200);
  },
);

const TemplateSchema = z
  .object({
    id: z.uuid(),
    key: z.string().meta({ example: "order_shipped" }),
    name: z.string(),
    subject: z.string().meta({ example: "Your order {{order.number}} is on its way" }),
    bodyText: z.string(),
    bodyHtml: z.string().nullable(),
    variables: z
      .array(z.string())
      .meta({ description: "Variables the template uses", example: ["order.number"] }),
    createdAt: Iso,
    updatedAt: Iso,
  })
  .meta({ id: "EmailTemplate" });

const TemplateBodySchema = z
  .strictObject({
    key: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,99}$/, "Lower-case letters, digits, _ . - (e.g. ticket_reply)"),
    name: z.string().trim().min(1).max(200),
    subject: z.string().trim().min(1).max(500),
    bodyText: z.string().min(1).max(200_000),
    bodyHtml: z.string().max(500_000).nullable().optional(),
  })
  .meta({ id: "EmailTemplateRequest" });

const RenderedSchema = z
  .object({ subject: z.string(), text: z.string(), html: z.string().nullable() })
  .meta({ id: "RenderedEmail" });

emailTemplatesApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List email templates",
    security: bearerSecurity,
    middleware: sender(),
    responses: {
      200: jsonContent(envelopeOf(z.object({ items: z.array(TemplateSchema) })), "The tenant's templates"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const items = await listEmailTemplates({ ctx: c.var.services });
    return c.json(successBody(c, { items }), 200);
  },
);

emailTemplatesApp.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Create an email template",
    description:
      "Placeholders are `{{name}}` or `{{dotted.name}}`, nothing else. Values are HTML-escaped in `bodyHtml`.",
    security: bearerSecurity,
    middleware: admin(),
    request: { body: { required: true, content: { "application/json": { schema: TemplateBodySchema } } } },
    responses: {
      201: jsonContent(envelopeOf(TemplateSchema), "Created"),
      409: errorResponse("A template with this key exists"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const template = await createEmailTemplate({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, template), 201);
  },
);

emailTemplatesApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "Get an email template",
    security: bearerSecurity,
    middleware: sender(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(TemplateSchema), "The template"),
      404: errorResponse("No such template in this tenant"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const template = await getEmailTemplate({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, template), 200);
  },
);

emailTemplatesApp.openapi(
  createRoute({
    method: "put",
    path: "/{id}",
    tags,
    summary: "Replace an email template",
    security: bearerSecurity,
    middleware: admin(),
    request: {
      params: IdParamSchema,
      body: { required: true, content: { "application/json": { schema: TemplateBodySchema } } },
    },
    responses: {
      200: jsonContent(envelopeOf(TemplateSchema), "The template"),
      404: errorResponse("No such template in this tenant"),
      409: errorResponse("Another template has this key"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const template = await replaceEmailTemplate({
      ctx: c.var.services,
      input: { ...c.req.valid("json"), id: c.req.valid("param").id },
    });
    return c.json(successBody(c, template), 200);
  },
);

emailTemplatesApp.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    tags,
    summary: "Delete an email template",
    description: "Emails already sent with it keep their `templateKey` and content.",
    security: bearerSecurity,
    middleware: admin(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(z.object({ deleted: z.literal(true) })), "Deleted"),
      404: errorResponse("No such template in this tenant"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const result = await deleteEmailTemplate({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, result), 200);
  },
);

emailTemplatesApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/preview",
    tags,
    summary: "Render a template with variables",
    description:
      "Exactly what a send would produce; a variable the template uses and the request lacks is a 422.",
    security: bearerSecurity,
    middleware: sender(),
    request: {
      params: IdParamSchema,
      body: {
        required: true,
        content: { "application/json": { schema: z.strictObject({ variables: Variables.default({}) }) } },
      },
    },
    responses: {
      200: jsonContent(envelopeOf(RenderedSchema), "The rendered subject and bodies"),
      404: errorResponse("No such template in this tenant"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const rendered = await previewEmailTemplate({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, variables: c.req.valid("json").variables },
    });
    return c.json(successBody(c, rendered), 200);
  },
);
