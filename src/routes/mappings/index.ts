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
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { deleteMapping } from "../../services/mappings/delete-mapping";
import { MAPPING_KINDS } from "../../services/mappings/mapping-view";
import { updateMapping } from "../../services/mappings/update-mapping";

export const MappingKindSchema = z.enum(MAPPING_KINDS).meta({
  description:
    "`sku`: channel SKU → ERP product code; `warehouse`: channel location → ERP warehouse code; " +
    "`logistics`: channel shipping method → ERP logistics channel code",
});
const SourceSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .meta({ description: "The channel-side value, matched exactly (case-sensitive)", example: "TSHIRT-RED-M" });
const TargetSchema = z.string().trim().min(1).max(200).meta({ example: "LX-100234" });
const NoteSchema = z.string().max(1000).nullable();

export const MappingSchema = z
  .object({
    id: z.uuid(),
    erpConnectionId: z.uuid(),
    kind: MappingKindSchema,
    source: z.string(),
    target: z.string(),
    note: z.string().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: "Mapping" });

export const MappingInputSchema = z
  .strictObject({
    kind: MappingKindSchema,
    source: SourceSchema,
    target: TargetSchema,
    note: NoteSchema.optional(),
  })
  .meta({ id: "MappingInput" });

const UpdateMappingSchema = z
  .strictObject({
    source: SourceSchema.optional(),
    target: TargetSchema.optional(),
    note: NoteSchema.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: "Give at least one field to change" })
  .meta({ id: "UpdateMappingRequest" });

const tags = ["Mappings"];
const admin = () => [authenticate(), requirePermission("sync:admin"), rateLimit("default")];
const notFound = errorResponse("No such mapping in this tenant");

const updateMappingRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Update a mapping",
  description: "A source already mapped (same ERP connection and kind) is a 409.",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: UpdateMappingSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(MappingSchema), "Updated"),
    404: notFound,
    409: errorResponse("This source already has a mapping of this kind"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const deleteMappingRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a mapping",
  security: bearerSecurity,
  middleware: admin(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(z.object({ deleted: z.literal(true) })), "Deleted"),
    404: notFound,
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

/** Mounted at /api/v1/mappings (listing and creating are under /api/v1/connections/{id}/mappings). */
export const mappingsApp = newApp()
  .openapi(updateMappingRoute, async (c) => {
    const mapping = await updateMapping({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, patch: c.req.valid("json") },
    });
    return c.json(successBody(c, mapping), 200);
  })
  .openapi(deleteMappingRoute, async (c) => {
    const result = await deleteMapping({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, result), 200);
  });
