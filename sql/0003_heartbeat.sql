-- consumerd's heartbeat: one row, rewritten every second. /api/ready calls
-- consumerd alive while beat_at is younger than MTM_HEARTBEAT_MAX_AGE.
-- mtm runs one consumerd per installation; the row says which one.

CREATE TABLE consumerd_heartbeat (
    id             integer PRIMARY KEY CHECK (id = 1),
    beat_at        timestamptz NOT NULL,
    pid            integer NOT NULL,
    hostname       text NOT NULL,
    amqp_connected boolean NOT NULL
);
