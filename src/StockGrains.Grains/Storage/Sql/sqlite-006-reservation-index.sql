-- Schema version 6: as on PostgreSQL (its version 4), the reservation index holds only the entries whose reservation
-- id differs from their operation id (commits, shipments, releases, expiries). A reservation's own entry carries its
-- reservation id as its operation id, which the unique operation index already covers. SQLite's write-ahead log
-- holds whole pages, and reservation ids are random, so each reservation's second index entry landed on a page of its
-- own: on a hot line a transaction of 34 reservations wrote some 34 more pages to the log than it needed. The index
-- also carries the operation id, so that a lookup's test against it is answered from the index: SQLite's planner,
-- which has no statistics, otherwise preferred reading every entry of the line.
DROP INDEX IF EXISTS ix_stock_ledger_reservation;

CREATE INDEX ix_stock_ledger_reservation ON stock_ledger (line, reservation_id, operation_id)
    WHERE reservation_id IS NOT NULL AND reservation_id <> operation_id;
