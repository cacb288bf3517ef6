-- Schema version 5: the state of order reservations, written by the same writer as the ledger so that the states of
-- many orders share one commit. Keyed by the grain's identity, with a version that every write must name: two
-- activations cannot both write over the same version.
CREATE TABLE IF NOT EXISTS grain_states (
    id      TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version > 0),
    payload BLOB    NULL
) WITHOUT ROWID;
