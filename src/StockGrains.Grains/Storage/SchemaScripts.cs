namespace StockGrains.Grains.Storage;

/// <summary>The project's schema scripts, embedded in this assembly and named <c>{dialect}-NNN-{what}.sql</c>.</summary>
public static class SchemaScripts
{
    /// <summary>The scripts of one dialect (<c>sqlite-</c>, <c>postgres-</c>), in version order.</summary>
    public static IEnumerable<(int Version, string Text)> For(string prefix)
    {
        var assembly = typeof(SchemaScripts).Assembly;
        var marker = $".Sql.{prefix}";
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.Contains(marker, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var tail = name[(name.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..];
            var version = int.Parse(tail[..tail.IndexOf('-')], System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return (version, reader.ReadToEnd());
        }
    }
}
