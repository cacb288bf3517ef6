-- Schema version 4: a reservation's own entry carries its reservation id as its operation id, which the unique
-- operation index already covers. Indexing it a second time cost every reservation a third index insert on the hot
-- path; this index now holds only entries whose reservation id differs from their operation id (commits, shipments,
-- releases, expiries), and lookups by id ask the two indexes together.
DROP INDEX IF EXISTS ix_stock_ledger_reservation;

CREATE INDEX ix_stock_ledger_reservation ON stock_ledger (line, reservation_id)
    WHERE reservation_id IS NOT NULL AND reservation_id <> operation_id;
