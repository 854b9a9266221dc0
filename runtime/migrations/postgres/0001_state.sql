-- flowgen state store, PostgreSQL (see flowgen_runtime::state for what each table holds).
-- Same tables and keys as the SQLite schema; record ids and JSON values are kept as their JSON
-- text there too, so both stores read back exactly what was written.

CREATE TABLE links (
    pair        TEXT        NOT NULL,
    a_id        TEXT        NOT NULL,
    b_id        TEXT        NOT NULL,
    a_hash      TEXT,
    b_hash      TEXT,
    orphaned    BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (pair, a_id)
);
CREATE UNIQUE INDEX links_by_b ON links (pair, b_id);

CREATE TABLE cursors (
    system      TEXT        NOT NULL,
    entity      TEXT        NOT NULL,
    cursor      TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system, entity)
);

CREATE TABLE intents (
    key            TEXT        PRIMARY KEY,
    direction      TEXT        NOT NULL,
    pair           TEXT        NOT NULL,
    source_side    TEXT        NOT NULL,
    source_id      TEXT        NOT NULL,
    target_system  TEXT        NOT NULL,
    target_entity  TEXT        NOT NULL,
    payload        TEXT        NOT NULL,
    source_hash    TEXT        NOT NULL,
    target_hash    TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE deferred (
    direction   TEXT        NOT NULL,
    record_id   TEXT        NOT NULL,
    reason      TEXT        NOT NULL,
    since       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (direction, record_id)
);

CREATE TABLE dead_letters (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    direction   TEXT        NOT NULL,
    record_id   TEXT        NOT NULL,
    payload     TEXT        NOT NULL,
    error       TEXT        NOT NULL,
    attempts    BIGINT      NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (direction, record_id)
);

CREATE TABLE conflicts (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    direction      TEXT        NOT NULL,
    pair           TEXT        NOT NULL,
    a_id           TEXT        NOT NULL,
    b_id           TEXT        NOT NULL,
    winner         TEXT        NOT NULL,
    winner_values  TEXT        NOT NULL,
    loser_values   TEXT        NOT NULL,
    at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE runs (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    status       TEXT        NOT NULL,
    report       TEXT        NOT NULL DEFAULT '{}'
);

-- Work items that several workers split: one row per (system, entity, shard). `token` grows on
-- every acquisition, so a worker whose lease was taken over can tell (fencing). Expiry is
-- judged by the database clock, so workers on machines with skewed clocks agree.
CREATE TABLE leases (
    system       TEXT        NOT NULL,
    entity       TEXT        NOT NULL,
    shard        INTEGER     NOT NULL CHECK (shard >= 0),
    holder       TEXT,
    token        BIGINT      NOT NULL DEFAULT 0,
    acquired_at  TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    PRIMARY KEY (system, entity, shard)
);
CREATE INDEX leases_free ON leases (expires_at);
