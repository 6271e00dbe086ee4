-- Up Migration
-- The audit trail: who (JWT iss/sub, the CDS userId), which patient, which service and hook,
-- hookInstance, the card uuids returned, the status and the time of every CDS call and
-- assessment. The one table that holds patient identifiers. Append-only: UPDATE is refused always,
-- DELETE unless the transaction set cart.audit_retention = 'on' (the retention job does, and
-- only for rows older than AUDIT_RETENTION_DAYS).
CREATE TABLE audit_event (
  id BIGSERIAL PRIMARY KEY,
  recorded_at TIMESTAMPTZ NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('cds-call', 'assessment')),
  client_iss TEXT,
  client_sub TEXT,
  user_id TEXT,
  patient_id TEXT,
  service_id TEXT,
  hook TEXT,
  hook_instance TEXT,
  card_uuids TEXT[] NOT NULL DEFAULT '{}',
  status INTEGER NOT NULL,
  request_id TEXT,
  client_address TEXT
);
CREATE INDEX audit_event_recorded ON audit_event (recorded_at);
CREATE INDEX audit_event_patient ON audit_event (patient_id, recorded_at);

CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('cart.audit_retention', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
