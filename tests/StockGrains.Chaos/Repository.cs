using System.Diagnostics;

namespace StockGrains.Chaos;

/// <summary>Where the repository and the built server are, and how to run its scripts.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>The server built in the same configuration (Debug or Release) as the running assembly.</summary>
    public static string ServerDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            return Path.Combine(Root, "src", "StockGrains.Server", "bin", configuration, "net10.0", "StockGrains.Server.dll");
        }
    }

    public static async Task<string> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await error}");
        }

        return (await output).Trim();
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "StockGrains.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("StockGrains.sln not found above " + AppContext.BaseDirectory);
    }
}
