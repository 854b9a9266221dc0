-- flowgen state store (see flowgen_runtime::state for what each table holds).

CREATE TABLE links (
    pair        TEXT    NOT NULL,
    a_id        TEXT    NOT NULL,
    b_id        TEXT    NOT NULL,
    a_hash      TEXT,
    b_hash      TEXT,
    orphaned    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (pair, a_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX links_by_b ON links (pair, b_id);

CREATE TABLE cursors (
    system      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    cursor      TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (system, entity)
) WITHOUT ROWID;

CREATE TABLE intents (
    key            TEXT PRIMARY KEY NOT NULL,
    direction      TEXT NOT NULL,
    pair           TEXT NOT NULL,
    source_side    TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    target_system  TEXT NOT NULL,
    target_entity  TEXT NOT NULL,
    payload        TEXT NOT NULL,
    source_hash    TEXT NOT NULL,
    target_hash    TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE deferred (
    direction   TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (direction, record_id)
) WITHOUT ROWID;

CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    direction   TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    error       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL,
    UNIQUE (direction, record_id)
);

CREATE TABLE conflicts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    direction      TEXT NOT NULL,
    pair           TEXT NOT NULL,
    a_id           TEXT NOT NULL,
    b_id           TEXT NOT NULL,
    winner         TEXT NOT NULL,
    winner_values  TEXT NOT NULL,
    loser_values   TEXT NOT NULL,
    at             TEXT NOT NULL
);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL,
    report       TEXT NOT NULL DEFAULT '{}'
);
