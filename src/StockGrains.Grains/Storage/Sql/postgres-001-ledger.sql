-- StockGrains ledger, PostgreSQL dialect, schema version 1.
-- The ledger is append-only: one row per change to a line, never updated, never deleted.
CREATE TABLE stock_ledger (
    line                      text   NOT NULL,
    sequence                  bigint NOT NULL CHECK (sequence > 0),
    kind                      text   NOT NULL,
    quantity                  bigint NOT NULL,
    reason                    text   NULL,
    reservation_id            text   NULL,
    operation_id              text   NOT NULL,
    actor                     text   NOT NULL,
    reference                 text   NULL,
    at_ticks                  bigint NOT NULL,
    on_hand_after             bigint NOT NULL,
    reserved_after            bigint NOT NULL,
    committed_after           bigint NOT NULL,
    safety_stock_after        bigint NOT NULL,
    policy_after              text   NOT NULL,
    expires_at_ticks          bigint NULL,
    fingerprint               text   NOT NULL,
    note                      text   NULL,
    unit                      text   NULL,
    unit_quantity             bigint NULL,
    counted_quantity          bigint NULL,
    count_started_at_sequence bigint NULL,
    counterparty              text   NULL,
    approval_id               text   NULL,
    alert_cause_after         bigint NULL,
    -- The fence: two writers can never both append sequence N to one line.
    CONSTRAINT pk_stock_ledger PRIMARY KEY (line, sequence),
    -- Exactly once: an operation id takes effect at most once per line.
    CONSTRAINT ux_stock_ledger_operation UNIQUE (line, operation_id)
);

CREATE INDEX ix_stock_ledger_reservation ON stock_ledger (line, reservation_id) WHERE reservation_id IS NOT NULL;
CREATE INDEX ix_stock_ledger_approval ON stock_ledger (line, approval_id) WHERE approval_id IS NOT NULL;
CREATE INDEX ix_stock_ledger_alert ON stock_ledger (line, sequence) WHERE alert_cause_after IS NOT NULL;
CREATE INDEX ix_stock_ledger_pending_approval ON stock_ledger (kind) WHERE kind = 'approval_requested';

CREATE FUNCTION stock_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stock_ledger is append-only';
END;
$$;

CREATE TRIGGER stock_ledger_no_update BEFORE UPDATE OR DELETE ON stock_ledger
    FOR EACH ROW EXECUTE FUNCTION stock_ledger_append_only();

CREATE TABLE stock_lines (
    line      text NOT NULL PRIMARY KEY,
    warehouse text NOT NULL,
    sku       text NOT NULL
);

CREATE INDEX ix_stock_lines_sku ON stock_lines (sku, warehouse);
