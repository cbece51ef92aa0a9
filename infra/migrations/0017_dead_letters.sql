-- Dead letters as the projection reads them from fluxo.deadletter.v1, for
-- /metrics (fluxo_dead_letters_total) and inspection. Keyed by the dead letter's
-- deterministic id: one re-sent for the same record and consumer counts once.
CREATE TABLE dead_letters (
    id                text PRIMARY KEY,
    consumer          text NOT NULL,
    original_topic    text NOT NULL,
    original_partition integer NOT NULL,
    original_offset   bigint NOT NULL,
    reason            text NOT NULL,
    dead_lettered_at  timestamptz NOT NULL
);
CREATE INDEX dead_letters_by_consumer ON dead_letters (consumer, original_topic);
