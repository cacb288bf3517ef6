-- Schema version 3: what operators record (notes, units entered, counts, transfers, approvals) and the alert state
-- after each entry; plus the list of lines, so reports and SKU-wide changes can find every line of a SKU.
ALTER TABLE stock_ledger ADD COLUMN note TEXT NULL;
ALTER TABLE stock_ledger ADD COLUMN unit TEXT NULL;
ALTER TABLE stock_ledger ADD COLUMN unit_quantity INTEGER NULL;
ALTER TABLE stock_ledger ADD COLUMN counted_quantity INTEGER NULL;
ALTER TABLE stock_ledger ADD COLUMN count_started_at_sequence INTEGER NULL;
ALTER TABLE stock_ledger ADD COLUMN counterparty TEXT NULL;
ALTER TABLE stock_ledger ADD COLUMN approval_id TEXT NULL;
ALTER TABLE stock_ledger ADD COLUMN alert_cause_after INTEGER NULL;

CREATE INDEX ix_stock_ledger_approval ON stock_ledger (line, approval_id) WHERE approval_id IS NOT NULL;
CREATE INDEX ix_stock_ledger_alert ON stock_ledger (line, sequence) WHERE alert_cause_after IS NOT NULL;
CREATE INDEX ix_stock_ledger_pending_approval ON stock_ledger (kind) WHERE kind = 'approval_requested';

CREATE TABLE stock_lines (
    line      TEXT NOT NULL PRIMARY KEY,
    warehouse TEXT NOT NULL,
    sku       TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX ix_stock_lines_sku ON stock_lines (sku, warehouse);

INSERT OR IGNORE INTO stock_lines (line, warehouse, sku)
SELECT DISTINCT line, substr(line, 1, instr(line, '/') - 1), substr(line, instr(line, '/') + 1) FROM stock_ledger;
