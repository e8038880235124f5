-- Dead letters: messages that could not be stored after MTM_MAX_ATTEMPTS
-- deliveries (or that can never be stored), kept with their reason until
-- replayed or purged. body holds the raw delivery (up to the body cap) so
-- that a replay republishes exactly what arrived.

CREATE TABLE dead_letters (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            text NOT NULL,
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    reason        text NOT NULL,
    attempts      integer NOT NULL,
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    body          bytea NOT NULL,
    properties    jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX dead_letters_seq_idx ON dead_letters (tenant_id, seq);
