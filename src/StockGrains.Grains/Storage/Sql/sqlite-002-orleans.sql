-- Orleans grain state (line snapshots, order reservations) and reminders on the embedded SQLite file.
-- Used through Microsoft.Orleans.Persistence.AdoNet and Microsoft.Orleans.Reminders.AdoNet with the invariant
-- "System.Data.SQLite", which Orleans maps to Microsoft.Data.Sqlite. The providers read their SQL from
-- OrleansQuery; parameters are bound by name (@GrainIdHash, ...).
--
-- Orleans' own SQLite persistence script has no unique constraint on the grain identity, so two first writes of
-- one grain could both insert. Here the identity is unique, and a write is one statement: insert when the caller
-- has no ETag, otherwise update only the version it read; it returns the new version, or NULL on a conflict,
-- which the provider turns into InconsistentStateException.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  TEXT NOT NULL PRIMARY KEY,
    QueryText TEXT NOT NULL
);

-- -------------------------------------------------------------------------------------
-- Grain state table.
-- -------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS OrleansStorage
(
    GrainIdHash            INTEGER NOT NULL,  -- int32 hash of grain key (+ extension)
    GrainIdN0              INTEGER NOT NULL,  -- int64: Guid bytes 0..7, 0 for long/string keys
    GrainIdN1              INTEGER NOT NULL,  -- int64: Guid bytes 8..15, or the long key, 0 for string keys
    GrainTypeHash          INTEGER NOT NULL,  -- int32 hash of GrainTypeString
    GrainTypeString        TEXT    NOT NULL,  -- grain type (state name / provider-normalised type)
    GrainIdExtensionString TEXT    NULL,      -- key extension, or the whole key for string-keyed grains
    ServiceId              TEXT    NOT NULL,
    PayloadBinary          BLOB    NULL,      -- serializer output (JSON bytes by default); NULL after ClearState
    ModifiedOn             TEXT    NOT NULL,  -- informational, UTC
    Version                INTEGER NULL       -- the ETag
);

-- Unique grain identity. SQLite treats NULLs as distinct in UNIQUE indexes, so the nullable
-- extension is indexed through ifnull(..., x'') : an empty BLOB never equals any TEXT value,
-- so "no extension" (NULL) and "" remain different identities while NULL = NULL collides.
-- The same expression list is used as the ON CONFLICT target of WriteToStorageKey.
CREATE UNIQUE INDEX IF NOT EXISTS UX_OrleansStorage_Identity ON OrleansStorage
(
    ServiceId, GrainTypeHash, GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeString,
    ifnull(GrainIdExtensionString, x'')
);

-- -------------------------------------------------------------------------------------
-- Reminders table (10.4.2 reads/writes only these columns).
-- -------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS OrleansRemindersTable
(
    ServiceId    TEXT    NOT NULL,
    GrainId      TEXT    NOT NULL,   -- GrainId.ToString(), e.g. "myreminder/abc"
    ReminderName TEXT    NOT NULL,
    StartTime    TEXT    NOT NULL,   -- DateTime bound by Microsoft.Data.Sqlite as 'yyyy-MM-dd HH:mm:ss.FFFFFFF' (UTC)
    Period       INTEGER NOT NULL,   -- milliseconds (int32 or int64 parameter)
    GrainHash    INTEGER NOT NULL,   -- (int)GrainId.GetUniformHashCode(), signed
    Version      INTEGER NOT NULL,   -- the ETag
    CONSTRAINT PK_RemindersTable_ServiceId_GrainId_ReminderName PRIMARY KEY (ServiceId, GrainId, ReminderName)
);

CREATE INDEX IF NOT EXISTS IX_RemindersTable_ServiceId_GrainHash ON OrleansRemindersTable (ServiceId, GrainHash);

-- =====================================================================================
-- Grain persistence queries
--   params (all): GrainIdHash int32, GrainIdN0 int64, GrainIdN1 int64, GrainTypeHash int32,
--                 GrainTypeString string, GrainIdExtensionString string|NULL, ServiceId string
--   write also:   GrainStateVersion int32|NULL, PayloadBinary byte[]
--   clear/delete: GrainStateVersion int32|NULL
-- =====================================================================================

-- Insert when ETag is NULL (fails -> NULL if the row already exists), otherwise update only if
-- Version = ETag (fails -> NULL if the version differs or the row is gone). One atomic statement.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('WriteToStorageKey', '
    INSERT INTO OrleansStorage
        (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, ModifiedOn, Version)
    SELECT
        @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId, @PayloadBinary,
        strftime(''%Y-%m-%d %H:%M:%f'', ''now''), 1
    WHERE @GrainStateVersion IS NULL
       OR EXISTS (
            SELECT 1 FROM OrleansStorage
            WHERE ServiceId = @ServiceId
              AND GrainTypeHash = @GrainTypeHash AND GrainIdHash = @GrainIdHash
              AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
              AND GrainTypeString = @GrainTypeString
              AND GrainIdExtensionString IS @GrainIdExtensionString)
    ON CONFLICT (ServiceId, GrainTypeHash, GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeString, ifnull(GrainIdExtensionString, x''''))
    DO UPDATE SET
        PayloadBinary = excluded.PayloadBinary,
        ModifiedOn    = excluded.ModifiedOn,
        Version       = OrleansStorage.Version + 1
    WHERE OrleansStorage.Version = @GrainStateVersion;

    SELECT CASE WHEN changes() > 0 THEN ifnull(@GrainStateVersion + 1, 1) ELSE NULL END AS NewGrainStateVersion;
');

-- Columns by name: PayloadBinary (BLOB|NULL), Version (int|NULL). Zero rows = no record.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadFromStorageKey', '
    SELECT
        PayloadBinary,
        Version
    FROM OrleansStorage
    WHERE ServiceId = @ServiceId
      AND GrainTypeHash = @GrainTypeHash AND GrainIdHash = @GrainIdHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS @GrainIdExtensionString
    LIMIT 1;
');

-- ClearState (DeleteStateOnClear = false): keep the row, NULL the payload, bump the version.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ClearStorageKey', '
    UPDATE OrleansStorage
    SET
        PayloadBinary = NULL,
        ModifiedOn    = strftime(''%Y-%m-%d %H:%M:%f'', ''now''),
        Version       = Version + 1
    WHERE ServiceId = @ServiceId
      AND GrainTypeHash = @GrainTypeHash AND GrainIdHash = @GrainIdHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS @GrainIdExtensionString
      AND Version = @GrainStateVersion;

    SELECT CASE WHEN changes() > 0 THEN @GrainStateVersion + 1 ELSE NULL END AS NewGrainStateVersion;
');

-- ClearState (DeleteStateOnClear = true): delete the row. Optional key; required only for that option.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteStorageKey', '
    DELETE FROM OrleansStorage
    WHERE ServiceId = @ServiceId
      AND GrainTypeHash = @GrainTypeHash AND GrainIdHash = @GrainIdHash
      AND GrainIdN0 = @GrainIdN0 AND GrainIdN1 = @GrainIdN1
      AND GrainTypeString = @GrainTypeString
      AND GrainIdExtensionString IS @GrainIdExtensionString
      AND Version = @GrainStateVersion;

    SELECT CASE WHEN changes() > 0 THEN @GrainStateVersion + 1 ELSE NULL END AS NewGrainStateVersion;
');

-- =====================================================================================
-- Reminder queries (all 7 keys are mandatory; the provider fails at startup if one is missing)
--   params: ServiceId string, GrainId string (AnsiString), ReminderName string,
--           StartTime DateTime (UTC), Period int32 ms (int64 if > int.MaxValue ms),
--           GrainHash/BeginHash/EndHash int32 (uint reinterpreted as signed), Version int32
--   row columns read by name: GrainId, ReminderName, StartTime, Period, Version
-- =====================================================================================

-- Unconditional upsert (no ETag check); must return one row with column Version (the new ETag).
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('UpsertReminderRowKey', '
    INSERT INTO OrleansRemindersTable (ServiceId, GrainId, ReminderName, StartTime, Period, GrainHash, Version)
    VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
    ON CONFLICT (ServiceId, GrainId, ReminderName) DO UPDATE SET
        StartTime = excluded.StartTime,
        Period    = excluded.Period,
        GrainHash = excluded.GrainHash,
        Version   = OrleansRemindersTable.Version + 1
    RETURNING Version AS Version;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadReminderRowsKey', '
    SELECT GrainId, ReminderName, StartTime, Period, Version
    FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId AND GrainId = @GrainId;
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadReminderRowKey', '
    SELECT GrainId, ReminderName, StartTime, Period, Version
    FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId AND GrainId = @GrainId AND ReminderName = @ReminderName;
');

-- Used when (int)BeginHash < (int)EndHash: the range (Begin, End].
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadRangeRows1Key', '
    SELECT GrainId, ReminderName, StartTime, Period, Version
    FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId
      AND GrainHash > @BeginHash AND GrainHash <= @EndHash;
');

-- Used otherwise (wrapping range; Begin == End means the full ring).
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('ReadRangeRows2Key', '
    SELECT GrainId, ReminderName, StartTime, Period, Version
    FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId
      AND (GrainHash > @BeginHash OR GrainHash <= @EndHash);
');

-- Must return exactly one row with exactly one column, truthy when a row was deleted.
INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteReminderRowKey', '
    DELETE FROM OrleansRemindersTable
    WHERE ServiceId = @ServiceId AND GrainId = @GrainId AND ReminderName = @ReminderName
      AND Version = @Version;
    SELECT changes();
');

INSERT OR REPLACE INTO OrleansQuery (QueryKey, QueryText) VALUES ('DeleteReminderRowsKey', '
    DELETE FROM OrleansRemindersTable WHERE ServiceId = @ServiceId;
');
