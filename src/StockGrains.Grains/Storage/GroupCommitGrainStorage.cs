using System.Globalization;
using Orleans.Storage;

namespace StockGrains.Grains.Storage;

/// <summary>
/// Grain storage whose writes go through the ledger's silo-wide writer: the states of many grains, and the ledger
/// appends of many lines, share one transaction and one commit. Order reservations use it. Through Orleans' own
/// ADO.NET storage every order write was a transaction of its own, so orders were capped at the database's commit
/// rate, whatever the stock lines could do.
/// <para>
/// A write names the version its grain read and fails with <see cref="InconsistentStateException"/> unless the stored
/// state is still at that version, so a second activation can never write over the first. A write completes only
/// after its commit. States written before this storage existed are still found in <paramref name="earlier"/> (the
/// ADO.NET storage they were written to); the first write here moves them over.
/// </para>
/// </summary>
public sealed class GroupCommitGrainStorage(ILedgerStore store, IGrainStorageSerializer serializer, IGrainStorage earlier) : IGrainStorage
{
    /// <summary>The ETag of a state read from the earlier storage: the first write here inserts it.</summary>
    private const string EarlierETag = "earlier";

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var stored = await store.ReadGrainStateAsync(Id(stateName, grainId));
        if (stored is null)
        {
            await earlier.ReadStateAsync(stateName, grainId, grainState);
            grainState.ETag = grainState.RecordExists ? EarlierETag : null;
            return;
        }

        grainState.ETag = stored.Version.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = stored.Payload is not null;
        grainState.State = stored.Payload is { } payload ? serializer.Deserialize<T>(BinaryData.FromBytes(payload)) : Activator.CreateInstance<T>();
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        StoreAsync(stateName, grainId, grainState, serializer.Serialize(grainState.State).ToArray());

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await StoreAsync(stateName, grainId, grainState, null);
        grainState.State = Activator.CreateInstance<T>();
    }

    private async Task StoreAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, byte[]? payload)
    {
        long? expected = grainState.ETag is null or EarlierETag ? null : long.Parse(grainState.ETag, CultureInfo.InvariantCulture);
        try
        {
            var version = await store.WriteGrainStateAsync(Id(stateName, grainId), expected, payload);
            grainState.ETag = version.ToString(CultureInfo.InvariantCulture);
            grainState.RecordExists = payload is not null;
        }
        catch (GrainStateConflictException ex)
        {
            throw new InconsistentStateException(ex.Message, grainState.ETag ?? "", "unknown", ex);
        }
    }

    /// <summary>The stored identity: the state's name and the grain's id, both canonical and stable.</summary>
    private static string Id(string stateName, GrainId grainId) => $"{stateName}/{grainId}";
}
