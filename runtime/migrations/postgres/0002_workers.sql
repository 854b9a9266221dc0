-- Several workers (flowgen run): who claimed each open create intent, and which workers are
-- alive. A claim (`holder` set) is made under an advisory lock per (direction, source record),
-- so two workers never create a target for the same source record; `holder` is NULL for the
-- intents of a single-process run (`flowgen sync`).
ALTER TABLE intents ADD COLUMN holder TEXT;
CREATE INDEX intents_by_source ON intents (direction, source_id);
CREATE INDEX intents_by_target ON intents (target_system, target_entity);

-- Workers announce themselves while they run, so that each can count the others and take
-- its share of the work items. Expiry is judged by the database clock, as for leases.
CREATE TABLE workers (
    holder      TEXT        PRIMARY KEY,
    expires_at  TIMESTAMPTZ NOT NULL
);
