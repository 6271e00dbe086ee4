-- Up Migration
-- Calls refused by client authentication (no token, a replayed jti, the replay store not answering)
-- are audited too (failed access attempts): why, as the reason code of cds_jwt_refusals_total. Never
-- the token; no patient, since the body of a refused call is not read.
ALTER TABLE audit_event ADD COLUMN refusal TEXT;
