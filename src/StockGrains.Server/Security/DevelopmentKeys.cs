namespace StockGrains.Server.Security;

/// <summary>
/// A Development server with no keys configured makes one key per role and keeps them in the data directory, so they
/// survive restarts and a developer can read them with <c>cat</c>. Only their hashes enter the configuration.
/// </summary>
public static class DevelopmentKeys
{
    /// <summary>The development clients: name → role. Two operators, so four-eyes approvals can be tried.</summary>
    private static readonly (string Client, string Role)[] Clients =
    [
        ("checkout", RoleNames.Checkout),
        ("operator", RoleNames.Operator),
        ("operator2", RoleNames.Operator),
        ("auditor", RoleNames.Auditor),
        ("admin", RoleNames.Admin),
    ];

    public static string Ensure(string dataDirectory, IConfigurationManager configuration)
    {
        var directory = Directory.CreateDirectory(Path.Combine(Path.GetFullPath(dataDirectory), "development-keys")).FullName;
        var settings = new Dictionary<string, string?>();
        foreach (var (client, role) in Clients)
        {
            var file = Path.Combine(directory, $"{client}.key");
            if (!File.Exists(file))
            {
                File.WriteAllText(file, ApiKeys.NewKey());
            }

            var key = File.ReadAllText(file).Trim();
            var prefix = $"{AuthOptions.Section}:Clients:dev-{client}";
            settings[$"{prefix}:Roles:0"] = role;
            settings[$"{prefix}:Warehouses:0"] = "*";
            settings[$"{prefix}:KeyHashes:0"] = ApiKeys.Hash(key);
        }

        configuration.AddInMemoryCollection(settings);
        return directory;
    }
}
