-- Schema version 6: lets the ledger writer send a whole transaction, commit included, in one round trip. Each of its
-- statements that must change a known number of rows (the entries behind their fences, the expiry index, the order
-- states behind their versions) passes the number it changed through this function, and a shortfall raises an error
-- that aborts the transaction before it can commit. The writer then writes the batch again the careful way, which
-- finds out which write lost its fence. The error code is the project's own, so no other failure is taken for it.
CREATE FUNCTION stockgrains_expect_rows(changed bigint, expected bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF changed IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'a write lost its fence: % rows changed, % expected', changed, expected USING ERRCODE = 'SG001';
    END IF;
    RETURN changed;
END;
$$;
