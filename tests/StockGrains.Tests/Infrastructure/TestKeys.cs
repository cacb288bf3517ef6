using StockGrains.Server.Security;

namespace StockGrains.Tests.Infrastructure;

/// <summary>
/// The API clients every test server knows. Each has every role in every warehouse, so tests that are not about
/// authorisation act as whoever they name; the authorisation tests configure narrower clients of their own.
/// </summary>
public static class TestKeys
{
    /// <summary>The client a test's requests come from unless it names another actor.</summary>
    public const string DefaultClient = "tester";

    public static readonly string[] Clients = [DefaultClient, "clerk", "supervisor", "counter", "alice", "bob"];

    public static string KeyOf(string client) => $"sgk_test_{client}";

    /// <summary>Configuration settings (as <c>Section:Key=value</c>) for these clients, with the given prefix style.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Settings(string separator = ":")
    {
        foreach (var client in Clients)
        {
            var prefix = string.Join(separator, "StockGrains", "Auth", "Clients", client);
            for (var i = 0; i < RoleNames.All.Length; i++)
            {
                yield return new($"{prefix}{separator}Roles{separator}{i}", RoleNames.All[i]);
            }

            yield return new($"{prefix}{separator}Warehouses{separator}0", "*");
            yield return new($"{prefix}{separator}KeyHashes{separator}0", ApiKeys.Hash(KeyOf(client)));
        }
    }

    /// <summary>A client configured with exactly these roles and warehouses (for the authorisation tests).</summary>
    public static IEnumerable<string> Client(string name, string[] roles, string[] warehouses, params string[] extra)
    {
        var prefix = $"--StockGrains:Auth:Clients:{name}";
        for (var i = 0; i < roles.Length; i++)
        {
            yield return $"{prefix}:Roles:{i}={roles[i]}";
        }

        for (var i = 0; i < warehouses.Length; i++)
        {
            yield return $"{prefix}:Warehouses:{i}={warehouses[i]}";
        }

        yield return $"{prefix}:KeyHashes:0={ApiKeys.Hash(KeyOf(name))}";
        foreach (var setting in extra)
        {
            yield return $"{prefix}:{setting}";
        }
    }
}
