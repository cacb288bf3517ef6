namespace StockGrains;

/// <summary>
/// Grain references by string key, made without resolving the interface on every call. Orleans'
/// <c>GetGrain&lt;T&gt;(string)</c> formats the interface's type name afresh for each reference it makes; on the paths
/// that make one or more references per checkout (a new order, its lines, its availability) that formatting cost about
/// a kilobyte and a few microseconds each. The grain type and interface type of <typeparamref name="T"/> are taken once,
/// from the first reference made the usual way, and every later reference is built from them and the key.
/// </summary>
public static class GrainReferences
{
    public static T Reference<T>(this IGrainFactory grains, string key) where T : class, IGrainWithStringKey
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentException.ThrowIfNullOrEmpty(key);
        var (grainType, interfaceType) = Types<T>.Of(grains);
        return (T)grains.GetGrain(GrainId.Create(grainType, key), interfaceType);
    }

    /// <summary>
    /// One pair per interface for the process. Every silo and client in a process maps an interface to the same grain
    /// type, since both come from the interface's and the class's names, so one cache serves them all.
    /// </summary>
    private static class Types<T> where T : class, IGrainWithStringKey
    {
        // A reference, so that a thread reading it while another writes sees either nothing or the whole pair.
        private static Pair? _types;

        public static Pair Of(IGrainFactory grains)
        {
            if (Volatile.Read(ref _types) is { } types)
            {
                return types;
            }

            // Any key will do: a reference is only a name, and making one activates nothing.
            var sample = (GrainReference)(object)grains.GetGrain<T>("_");
            types = new Pair(sample.GrainId.Type, sample.InterfaceType);
            Volatile.Write(ref _types, types);
            return types;
        }
    }

    private sealed record Pair(GrainType GrainType, GrainInterfaceType InterfaceType);
}
