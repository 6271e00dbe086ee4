/**
 * Audit records as FHIR R4 AuditEvent resources (https://hl7.org/fhir/R4/auditevent.html), the
 * form GET /admin/audit exports them in (NDJSON, one resource a line).
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity } from 'fhir/r4.js';
import type { StoredAuditRecord } from './audit.js';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';

const UNAUTHENTICATED = 'unauthenticated CDS client (CDS_TRUSTED_ISSUERS not set)';

/** AuditEvent.outcome: 0 success, 4 minor failure (the caller's request was refused), 8 serious failure. */
function outcomeOf(status: number): AuditEvent['outcome'] {
  if (status < 400) return '0';
  return status < 500 ? '4' : '8';
}

/** A reference when `userId` looks like one (`Practitioner/123`), else an identifier. */
function userReference(userId: string): AuditEventAgent['who'] {
  return /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(userId)
    ? { reference: userId }
    : { identifier: { value: userId } };
}

export function toAuditEvent(r: StoredAuditRecord, source: string): AuditEvent {
  const agents: AuditEventAgent[] = [];
  if (r.userId)
    agents.push({
      type: { coding: [{ system: PARTICIPATION, code: 'IRCP', display: 'information recipient' }] },
      who: userReference(r.userId),
      requestor: true,
    });
  agents.push({
    type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
    ...(r.clientIss
      ? { who: { identifier: { system: r.clientIss, value: r.clientSub ?? r.clientIss } } }
      : { who: { display: r.refusal ? 'CDS client not authenticated (refused)' : UNAUTHENTICATED } }),
    requestor: !r.userId,
    ...(r.clientAddress ? { network: { address: r.clientAddress, type: isIp(r.clientAddress) ? '2' : '1' } } : {}),
  });
  const entities: AuditEventEntity[] = [];
  if (r.patientId)
    entities.push({
      what: { reference: `Patient/${r.patientId}` },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  const details = [
    ...(r.serviceId ? [{ type: 'serviceId', valueString: r.serviceId }] : []),
    ...(r.hook ? [{ type: 'hook', valueString: r.hook }] : []),
    ...(r.cardUuids.length > 0 ? [{ type: 'cardUuids', valueString: r.cardUuids.join(' ') }] : []),
    { type: 'httpStatus', valueString: String(r.status) },
    ...(r.refusal ? [{ type: 'refusal', valueString: r.refusal }] : []),
    ...(r.requestId ? [{ type: 'requestId', valueString: r.requestId }] : []),
  ];
  entities.push({
    ...(r.hookInstance ? { what: { identifier: { value: r.hookInstance } } } : {}),
    type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
    description: r.action === 'cds-call' ? 'CDS Hooks service call' : 'hematotoxicity assessment',
    detail: details,
  });
  return {
    resourceType: 'AuditEvent',
    id: r.id,
    type: { system: DCM, code: '110112', display: 'Query' },
    subtype: [
      r.action === 'cds-call'
        ? { system: 'https://cds-hooks.hl7.org', code: r.hook ?? 'unknown', display: 'CDS Hooks call' }
        : { system: 'http://hl7.org/fhir/restful-interaction', code: 'operation', display: 'operation' },
    ],
    action: 'E',
    recorded: r.recordedAt.toISOString(),
    outcome: outcomeOf(r.status),
    ...(r.refusal ? { outcomeDesc: `refused by client authentication: ${r.refusal}` } : {}),
    agent: agents,
    source: {
      observer: { display: source },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    entity: entities,
  };
}

function isIp(address: string): boolean {
  return /^[\d.]+$/.test(address) || address.includes(':');
}
