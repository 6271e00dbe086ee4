/**
 * The audit trail: who used the service on which patient's data, through which service, and what
 * they were shown. One record per CDS call and per assessment, and per call refused by client
 * authentication (a failed access attempt), appended to a table that is never
 * updated (src/storage/audit-store.ts). It is the one place where patient identifiers are kept:
 * records go to storage, never to the application log.
 */

export type AuditAction = 'cds-call' | 'assessment';

export interface AuditRecord {
  recordedAt: Date;
  action: AuditAction;
  /** The CDS client (JWT `iss` and `sub`); undefined when client authentication is off. */
  clientIss?: string | undefined;
  clientSub?: string | undefined;
  /** The CDS Hooks context `userId` (e.g. `Practitioner/123`). */
  userId?: string | undefined;
  patientId?: string | undefined;
  serviceId?: string | undefined;
  hook?: string | undefined;
  hookInstance?: string | undefined;
  /** uuids of the cards returned. */
  cardUuids: string[];
  /** HTTP status answered. */
  status: number;
  requestId?: string | undefined;
  /** The caller's address as the service saw it (TRUST_PROXY decides whether X-Forwarded-For counts). */
  clientAddress?: string | undefined;
  /**
   * Why client authentication refused the call (a RefusalReason of src/cds-hooks/auth.ts: `no-token`,
   * `jti-replayed`, `replay-store-unavailable`…); its body was not read, so no patient or user is known.
   */
  refusal?: string | undefined;
}

/** A stored record, with its sequence number. */
export interface StoredAuditRecord extends AuditRecord {
  id: string;
}

/** Where audit records go (PostgreSQL or SQLite, src/storage/audit-store.ts). */
export interface AuditStore {
  append(records: readonly AuditRecord[]): Promise<void>;
  /** Records with `from <= recordedAt < to` and id above `afterId`, in id order, at most `limit`. */
  read(range: { from: Date; to: Date; afterId?: string | undefined; limit: number }): Promise<StoredAuditRecord[]>;
  /**
   * Deletes at most `limit` records older than `before` (retention), in one short transaction;
   * returns how many. Fewer than `limit` means none is left (src/audit/retention.ts repeats it).
   */
  prune(before: Date, limit: number): Promise<number>;
}

/** Longest a text field of a record may be; longer values (hostile input) are cut. */
export const AUDIT_FIELD_MAX = 256;
/** Most card uuids kept per record. */
export const AUDIT_CARDS_MAX = 50;

/**
 * Bounds every field of a record: the request that produced it may be hostile. U+0000 becomes
 * U+FFFD: PostgreSQL's text cannot hold it (error 22021), and records are written many to one
 * INSERT, so one `userId` or URL holding it lost every record written with it.
 */
export function boundRecord(r: AuditRecord): AuditRecord {
  const cut = (v: string | undefined): string | undefined =>
    v === undefined ? undefined : v.slice(0, AUDIT_FIELD_MAX).replaceAll('\u0000', '\ufffd');
  return {
    ...r,
    clientIss: cut(r.clientIss),
    clientSub: cut(r.clientSub),
    userId: cut(r.userId),
    patientId: cut(r.patientId),
    serviceId: cut(r.serviceId),
    hook: cut(r.hook),
    hookInstance: cut(r.hookInstance),
    cardUuids: r.cardUuids.slice(0, AUDIT_CARDS_MAX).map((u) => cut(u) as string),
    requestId: cut(r.requestId),
    clientAddress: cut(r.clientAddress),
    refusal: cut(r.refusal),
  };
}
