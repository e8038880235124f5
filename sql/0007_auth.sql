-- Accounts, tenant tokens, failed-login throttling and the audit log.

-- Operators who log in with a password. The admin account is created (and
-- its password kept in step) by mtm-api from MTM_ADMIN_USER and
-- MTM_ADMIN_PASSWORD. Hashes are crypt(3) strings (yescrypt).
CREATE TABLE users (
    username      text PRIMARY KEY CHECK (char_length(username) BETWEEN 1 AND 64),
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'admin' CHECK (role IN ('admin')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Tenant-scoped tokens. The token itself is never stored: only its jti,
-- so a leaked database does not leak usable tokens. Revoking sets
-- revoked_at; verification refuses revoked, expired and orphaned jtis.
CREATE TABLE tenant_tokens (
    jti        uuid PRIMARY KEY,
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_by text NOT NULL
);
CREATE INDEX tenant_tokens_tenant_idx ON tenant_tokens (tenant_id, seq);

-- Failed logins per (username, address) in a sliding window.
CREATE TABLE login_failures (
    username     text NOT NULL,
    address      text NOT NULL,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    PRIMARY KEY (username, address)
);

-- Admin actions, append-only from the API's point of view.
CREATE TABLE audit_log (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text,
    request_id text,
    address    text,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
