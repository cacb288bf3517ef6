-- Schema version 5: the state of order reservations, written by the same writer as the ledger so that the states of
-- many orders share one commit. Keyed by the grain's identity, with a version that every write must name: two
-- activations cannot both write over the same version.
CREATE TABLE IF NOT EXISTS grain_states (
    id      TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version > 0),
    payload BLOB    NULL
) WITHOUT ROWID;

-- Orders placed before this version live in Orleans' grain storage; they move here once, as this script is applied,
-- so that no read ever has to look in two places. The id is the one the grain storage uses: the state's name, then
-- the grain's id ('reservation/' and its key).
INSERT OR IGNORE INTO grain_states (id, version, payload)
SELECT 'reservation/reservation/' || GrainIdExtensionString, CASE WHEN Version > 0 THEN Version ELSE 1 END, PayloadBinary
FROM OrleansStorage
WHERE GrainTypeString = 'reservation' AND GrainIdExtensionString IS NOT NULL;
