-- Orleans grain state (line snapshots, order reservations) and reminders on the embedded SQLite file, version 2.
-- Orleans' ADO.NET providers have no SQLite dialect, so the embedded store implements both itself; every row is
-- keyed by its full identity with a primary key, so two first writes of one grain can never both succeed.
CREATE TABLE IF NOT EXISTS grain_state (
    service_id       TEXT    NOT NULL,
    grain_id         TEXT    NOT NULL,
    state_name       TEXT    NOT NULL,
    version          INTEGER NOT NULL CHECK (version > 0),
    payload          TEXT    NOT NULL,
    updated_at_ticks INTEGER NOT NULL,
    PRIMARY KEY (service_id, grain_id, state_name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS reminders (
    service_id     TEXT    NOT NULL,
    grain_id       TEXT    NOT NULL,
    reminder_name  TEXT    NOT NULL,
    grain_hash     INTEGER NOT NULL,
    start_at_ticks INTEGER NOT NULL,
    period_ticks   INTEGER NOT NULL,
    version        INTEGER NOT NULL CHECK (version > 0),
    PRIMARY KEY (service_id, grain_id, reminder_name)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS ix_reminders_hash ON reminders (service_id, grain_hash);

INSERT OR IGNORE INTO stockgrains_schema (version, applied_at) VALUES (2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
