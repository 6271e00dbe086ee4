/**
 * CDS Hooks 2.0 wire formats as zod schemas (https://cds-hooks.hl7.org/2.0/).
 *
 * Requests are parsed leniently where the spec is open (unknown fields and `extension` objects
 * are kept, not rejected) and strictly where it is closed (required fields, types, enums).
 * Responses are described strictly: the spec forbids null and empty optional elements.
 */
import { z } from 'zod';

/** The spec calls hookInstance, card.uuid and suggestion.uuid "UUID"; accept any RFC 4122 layout. */
export const uuidString = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a UUID');

const nonEmpty = z.string().min(1, 'must not be empty');
const extension = z.record(z.string(), z.unknown()).optional();

export const hookNames = ['patient-view', 'order-select', 'order-sign'] as const;
export type HookName = (typeof hookNames)[number];

/** A FHIR resource as far as the protocol layer cares: an object with a resourceType. */
export const resourceLike = z.looseObject({ resourceType: nonEmpty, id: z.string().optional() });

/**
 * A Bundle in the context (draftOrders). Its entries are screened one by one where they are read,
 * so one malformed order costs that order, not the call.
 */
export const bundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: z.string().optional(),
  entry: z.array(z.unknown()).optional(),
});

/**
 * FHIR R4 id: a patientId that is not one cannot be searched for, and is never logged. An id of
 * dots only (`.`, `..`) matches R4's pattern but is a path segment that reads the FHIR base itself
 * (`Patient/..`), so a request's id may not be one.
 */
export const fhirIdSchema = z
  .string()
  .regex(/^(?!\.+$)[A-Za-z0-9\-.]{1,64}$/, 'must be a FHIR id ([A-Za-z0-9-.], at most 64 characters, not only dots)');
const boundedString = nonEmpty.max(1024, 'must be at most 1024 characters');

const baseContext = {
  userId: boundedString,
  patientId: fhirIdSchema,
  encounterId: boundedString.optional(),
};

export const contextSchemas = {
  'patient-view': z.looseObject(baseContext),
  'order-select': z.looseObject({
    ...baseContext,
    selections: z.array(boundedString).min(1, 'must name at least one selected order').max(1000),
    draftOrders: bundleSchema,
  }),
  'order-sign': z.looseObject({ ...baseContext, draftOrders: bundleSchema }),
} as const;

export type PatientViewContext = z.infer<(typeof contextSchemas)['patient-view']>;
export type OrderSelectContext = z.infer<(typeof contextSchemas)['order-select']>;
export type OrderSignContext = z.infer<(typeof contextSchemas)['order-sign']>;
export type HookContext = PatientViewContext | OrderSelectContext | OrderSignContext;

/** The request envelope; `context` is validated separately against the service's hook. */
export const cdsRequestSchema = z.looseObject({
  hook: nonEmpty,
  hookInstance: uuidString,
  fhirServer: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).optional(),
  /** Read by readFhirAuthorization(): tolerant, and never a reason to refuse a complete prefetch. */
  fhirAuthorization: z.unknown().optional(),
  context: z.record(z.string(), z.unknown()),
  prefetch: z.record(z.string(), z.unknown().nullable()).optional(),
  extension,
});
export type CdsRequest = z.infer<typeof cdsRequestSchema>;

// ---- Responses ---------------------------------------------------------------------------------

export const codingSchema = z
  .object({
    system: nonEmpty.optional(),
    code: nonEmpty,
    display: nonEmpty.optional(),
  })
  .strict();

export const actionSchema = z
  .object({
    type: z.enum(['create', 'update', 'delete']),
    description: nonEmpty,
    resource: resourceLike.optional(),
    resourceId: nonEmpty.optional(),
  })
  .strict();

export const suggestionSchema = z
  .object({
    label: nonEmpty,
    uuid: uuidString.optional(),
    isRecommended: z.boolean().optional(),
    actions: z.array(actionSchema).min(1).optional(),
  })
  .strict();

export const linkSchema = z
  .object({
    label: nonEmpty,
    url: z.url(),
    type: z.enum(['absolute', 'smart']),
    appContext: nonEmpty.optional(),
  })
  .strict();

export const cardSchema = z
  .object({
    uuid: uuidString.optional(),
    summary: nonEmpty.max(139, 'must be shorter than 140 characters'),
    detail: nonEmpty.optional(),
    indicator: z.enum(['info', 'warning', 'critical']),
    source: z
      .object({ label: nonEmpty, url: z.url().optional(), icon: z.url().optional(), topic: codingSchema.optional() })
      .strict(),
    suggestions: z.array(suggestionSchema).min(1).optional(),
    selectionBehavior: z.enum(['at-most-one', 'any']).optional(),
    overrideReasons: z
      .array(codingSchema.required({ display: true }))
      .min(1)
      .optional(),
    links: z.array(linkSchema).min(1).optional(),
    extension: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((c) => !c.suggestions || c.selectionBehavior, {
    message: 'selectionBehavior is required when suggestions are present',
    path: ['selectionBehavior'],
  });
export type Card = z.infer<typeof cardSchema>;
export type ActionResource = z.infer<typeof resourceLike>;
export type Coding = z.infer<typeof codingSchema>;
export type Suggestion = z.infer<typeof suggestionSchema>;
export type Link = z.infer<typeof linkSchema>;

export const cdsResponseSchema = z
  .object({ cards: z.array(cardSchema), systemActions: z.array(actionSchema).min(1).optional() })
  .strict();
export type CdsResponse = z.infer<typeof cdsResponseSchema>;

export const discoveryServiceSchema = z
  .object({
    hook: z.enum(hookNames),
    id: nonEmpty.regex(/^[A-Za-z0-9._-]+$/),
    title: nonEmpty,
    description: nonEmpty,
    prefetch: z.record(z.string(), nonEmpty).optional(),
    usageRequirements: nonEmpty.optional(),
  })
  .strict();
export const discoveryResponseSchema = z.object({ services: z.array(discoveryServiceSchema) }).strict();

// ---- Feedback ----------------------------------------------------------------------------------

/** A character FHIR strings may not hold (R4 datatypes, string): below U+0020, but tab, line feed and carriage return. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return true;
  }
  return false;
}

/**
 * The text of a feedback entry, stored as given: a FHIR string. A control character is refused by
 * name (400) rather than stored: PostgreSQL's text cannot hold U+0000 at all, and the client's
 * retries of a 503 would fail the same way for ever.
 */
const feedbackText = z.string().refine((t) => !hasControlCharacter(t), {
  message: 'must not contain control characters (FHIR string: none below U+0020 but tab, line feed, carriage return)',
});
const feedbackCode = feedbackText.check(z.minLength(1, 'must not be empty'));

export const feedbackEntrySchema = z
  .looseObject({
    card: uuidString,
    outcome: z.enum(['accepted', 'overridden']),
    acceptedSuggestions: z
      .array(z.looseObject({ id: feedbackCode }))
      .min(1)
      .max(100) // a card offers a handful; zod walked 150,000 into a stack overflow (a 500)
      .optional(),
    overrideReason: z
      .looseObject({
        reason: z
          .looseObject({ system: feedbackText.optional(), code: feedbackCode, display: feedbackText.optional() })
          .optional(),
        userComment: feedbackText.check(z.maxLength(4000)).optional(),
      })
      .optional(),
    outcomeTimestamp: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 timestamp' }),
    extension,
  })
  .superRefine((f, ctx) => {
    if (f.outcome === 'accepted' && !f.acceptedSuggestions) {
      ctx.addIssue({ code: 'custom', path: ['acceptedSuggestions'], message: 'is required when outcome is accepted' });
    }
  });
export const feedbackRequestSchema = z.looseObject({
  feedback: z.array(feedbackEntrySchema).min(1, 'must contain at least one entry').max(500),
});
export type FeedbackEntry = z.infer<typeof feedbackEntrySchema>;
