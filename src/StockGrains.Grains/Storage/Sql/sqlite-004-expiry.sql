-- Schema version 4: each line's earliest pending hold expiry, written in the same transaction as the entries that
-- change it. One sweeper finds lines due to expire here, instead of one durable reminder per line.
ALTER TABLE stock_lines ADD COLUMN next_expiry INTEGER NULL;

CREATE INDEX ix_stock_lines_next_expiry ON stock_lines (next_expiry) WHERE next_expiry IS NOT NULL;
