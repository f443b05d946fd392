// /api/v1/email-templates: CRUD, preview, validation and security.
import { describe, expect, it } from "vitest";
import { bearer, signedInUser } from "../support/auth";
import { call, envelope } from "../support/harness";

interface Template {
  id: string;
  key: string;
  name: string;
  subject: string;
  bodyText: string;
  bodyHtml: string | null;
  variables: string[];
}

const ticketReply = {
  key: "ticket_reply",
  name: "Ticket reply",
  subject: "Re: {{ticket.subject}} [#{{ticket.number}}]",
  bodyText: "Hi {{customer.name}},\n\n{{reply}}\n\n— {{agent}}",
  bodyHtml: "<p>Hi {{customer.name}},</p><p>{{reply}}</p><p>— {{agent}}</p>",
};

async function post(token: string, path: string, body: unknown) {
  const response = await call(path, bearer(token, { method: "POST", body }));
  return { status: response.status, body: await envelope<Template>(response) };
}

describe("email templates API", () => {
  it("creates, reads, lists, replaces and deletes a template", async () => {
    const admin = await signedInUser({ permissions: ["email:admin"] });
    const created = await post(admin.token, "/api/v1/email-templates", ticketReply);
    expect(created.status).toBe(201);
    const template = created.body.data as Template;
    expect(template).toMatchObject({
      ...ticketReply,
      variables: ["agent", "customer.name", "reply", "ticket.number", "ticket.subject"],
    });

    const got = await envelope<Template>(
      await call(`/api/v1/email-templates/${template.id}`, bearer(admin.token)),
    );
    expect(got.data).toEqual(template);
    const list = await envelope<{ items: Template[] }>(
      await call("/api/v1/email-templates", bearer(admin.token)),
    );
    expect(list.data?.items.map((t) => t.key)).toEqual(["ticket_reply"]);

    const replaced = await call(
      `/api/v1/email-templates/${template.id}`,
      bearer(admin.token, {
        method: "PUT",
        body: { key: "ticket_reply_v2", name: "Reply", subject: "Re: {{s}}", bodyText: "{{b}}" },
      }),
    );
    expect(replaced.status).toBe(200);
    expect((await envelope<Template>(replaced)).data).toMatchObject({
      key: "ticket_reply_v2",
      bodyHtml: null,
      variables: ["b", "s"],
    });

    const deleted = await call(
      `/api/v1/email-templates/${template.id}`,
      bearer(admin.token, { method: "DELETE" }),
    );
    expect((await envelope(deleted)).data).toEqual({ deleted: true });
    const gone = await call(`/api/v1/email-templates/${template.id}`, bearer(admin.token));
    expect(gone.status).toBe(404);
    expect((await envelope(gone)).error).toEqual({ code: "NOT_FOUND", message: "Email template not found" });
  });

  it("previews a template exactly as a send renders it (HTML-escaped), and names missing variables", async () => {
    const admin = await signedInUser({ permissions: ["email:admin"] });
    const { body } = await post(admin.token, "/api/v1/email-templates", ticketReply);
    const id = body.data?.id;
    const variables = {
      ticket: { subject: "Parcel late", number: 1042 },
      customer: { name: "Ava & <Co>" },
      reply: "It ships today.",
      agent: "Sam",
    };
    const preview = await post(admin.token, `/api/v1/email-templates/${id}/preview`, { variables });
    expect(preview.status).toBe(200);
    expect(preview.body.data).toEqual({
      subject: "Re: Parcel late [#1042]",
      text: "Hi Ava & <Co>,\n\nIt ships today.\n\n— Sam",
      html: "<p>Hi Ava &amp; &lt;Co&gt;,</p><p>It ships today.</p><p>— Sam</p>",
    });
    const missing = await post(admin.token, `/api/v1/email-templates/${id}/preview`, {
      variables: { agent: "Sam" },
    });
    expect(missing.status).toBe(422);
    expect(missing.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "The template cannot be rendered with these variables",
      details: {
        "variables.ticket.subject": ["Missing: the template uses this variable"],
        "variables.ticket.number": ["Missing: the template uses this variable"],
        "variables.customer.name": ["Missing: the template uses this variable"],
        "variables.reply": ["Missing: the template uses this variable"],
      },
    });
  });

  it("refuses a duplicate key (409) and malformed placeholders or keys (422)", async () => {
    const admin = await signedInUser({ permissions: ["email:admin"] });
    await post(admin.token, "/api/v1/email-templates", ticketReply);
    const duplicate = await post(admin.token, "/api/v1/email-templates", ticketReply);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toEqual({
      code: "CONFLICT",
      message: "An email template with this key already exists",
      details: { field: "key" },
    });
    const malformed = await post(admin.token, "/api/v1/email-templates", {
      ...ticketReply,
      key: "other",
      bodyText: "Hi {{ customer name }}",
    });
    expect(malformed.status).toBe(422);
    expect(malformed.body.error?.details).toEqual({
      bodyText: [
        '"{{customer name}}" is not a variable name (letters, digits, _ and dots, e.g. {{order.number}})',
      ],
    });
    const badKey = await post(admin.token, "/api/v1/email-templates", { ...ticketReply, key: "Has Spaces" });
    expect(badKey.status).toBe(422);
    expect(badKey.body.error?.details).toHaveProperty("key");
  });

  it("lets senders read and preview but only admins write; another tenant's template is a 404", async () => {
    const admin = await signedInUser({ permissions: ["email:admin"] });
    const { body } = await post(admin.token, "/api/v1/email-templates", ticketReply);
    const id = body.data?.id;
    const agent = await signedInUser({ tenant: admin.tenant, permissions: ["email:send"] });
    expect((await call(`/api/v1/email-templates/${id}`, bearer(agent.token))).status).toBe(200);
    const write = await post(agent.token, "/api/v1/email-templates", { ...ticketReply, key: "x" });
    expect(write.status).toBe(403);
    expect(write.body.error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission email:admin",
      details: { permission: "email:admin" },
    });
    expect(
      (await call(`/api/v1/email-templates/${id}`, bearer(agent.token, { method: "DELETE" }))).status,
    ).toBe(403);
    const nobody = await signedInUser({ tenant: admin.tenant, permissions: ["tickets:read"] });
    expect((await call("/api/v1/email-templates", bearer(nobody.token))).status).toBe(403);
    expect((await call("/api/v1/email-templates")).status).toBe(401);

    const other = await signedInUser({ permissions: ["email:admin"] });
    for (const [method, path, payload] of [
      ["GET", `/api/v1/email-templates/${id}`, undefined],
      ["PUT", `/api/v1/email-templates/${id}`, { ...ticketReply, name: "pwned" }],
      ["POST", `/api/v1/email-templates/${id}/preview`, { variables: {} }],
      ["DELETE", `/api/v1/email-templates/${id}`, undefined],
    ] as const) {
      const response = await call(
        path,
        bearer(other.token, { method, ...(payload ? { body: payload } : {}) }),
      );
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    const list = await envelope<{ items: Template[] }>(
      await call("/api/v1/email-templates", bearer(other.token)),
    );
    expect(list.data?.items).toEqual([]);
    const still = await envelope<Template>(await call(`/api/v1/email-templates/${id}`, bearer(admin.token)));
    expect(still.data?.name).toBe("Ticket reply");
  });
});
