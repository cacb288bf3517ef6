-- Schema version 7: the ledger's keys compare as bytes. A text column takes the database's collation, and unless
-- that is "C" (PostgreSQL 15 counts neither C.UTF-8 nor en_US.UTF-8 as such), every comparison inside a b-tree goes
-- through the locale. Each entry is inserted into two or three indexes keyed by a line and an id; on a hot line the
-- comparisons took about a seventh of the writer's backend, much of it in strcoll. The keys are identifiers, never
-- shown in a language's order, and bytewise order is also what the warehouse ranges of PendingApprovalsAsync
-- ('w/' up to 'w0') assume. Changing a column's collation rebuilds its indexes but not the table.
ALTER TABLE stock_ledger
    ALTER COLUMN line TYPE text COLLATE "C",
    ALTER COLUMN operation_id TYPE text COLLATE "C",
    ALTER COLUMN reservation_id TYPE text COLLATE "C",
    ALTER COLUMN approval_id TYPE text COLLATE "C";

ALTER TABLE stock_lines
    ALTER COLUMN line TYPE text COLLATE "C",
    ALTER COLUMN warehouse TYPE text COLLATE "C",
    ALTER COLUMN sku TYPE text COLLATE "C";

ALTER TABLE grain_states
    ALTER COLUMN id TYPE text COLLATE "C";
