-- StockGrains ledger, SQLite dialect, schema version 1.
-- The ledger is append-only: one row per change to a line, never updated, never deleted.
CREATE TABLE IF NOT EXISTS stock_ledger (
    line               TEXT    NOT NULL,
    sequence           INTEGER NOT NULL CHECK (sequence > 0),
    kind               TEXT    NOT NULL,
    quantity           INTEGER NOT NULL,
    reason             TEXT    NULL,
    reservation_id     TEXT    NULL,
    operation_id       TEXT    NOT NULL,
    actor              TEXT    NOT NULL,
    reference          TEXT    NULL,
    at_ticks           INTEGER NOT NULL,
    on_hand_after      INTEGER NOT NULL,
    reserved_after     INTEGER NOT NULL,
    committed_after    INTEGER NOT NULL,
    safety_stock_after INTEGER NOT NULL,
    policy_after       TEXT    NOT NULL,
    expires_at_ticks   INTEGER NULL,
    fingerprint        TEXT    NOT NULL,
    -- The fence: two writers can never both append sequence N to one line.
    PRIMARY KEY (line, sequence),
    -- Exactly once: an operation id takes effect at most once per line.
    CONSTRAINT ux_stock_ledger_operation UNIQUE (line, operation_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS ix_stock_ledger_reservation ON stock_ledger (line, reservation_id) WHERE reservation_id IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS stock_ledger_no_update BEFORE UPDATE ON stock_ledger
BEGIN
    SELECT RAISE(ABORT, 'stock_ledger is append-only');
END;

CREATE TRIGGER IF NOT EXISTS stock_ledger_no_delete BEFORE DELETE ON stock_ledger
BEGIN
    SELECT RAISE(ABORT, 'stock_ledger is append-only');
END;
