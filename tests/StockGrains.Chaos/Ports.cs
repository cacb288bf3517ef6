using System.Net;
using System.Net.Sockets;

namespace StockGrains.Chaos;

/// <summary>
/// Free loopback ports for the servers a run or a test starts. A port the kernel picks for a bind to port 0 comes from
/// the ephemeral range, and once released it can be handed out again at once, to the next such bind or as the local
/// port of an outgoing connection, before the process it was picked for binds it: a restarted silo once failed with
/// "address already in use" that way. These ports come from below Linux's ephemeral range, each at most once per
/// process, and only after a bind shows that nothing holds them.
/// </summary>
public static class Ports
{
    /// <summary>The range handed out: below the default ephemeral range (32768–60999), above the well-known services.</summary>
    private const int First = 20_000;

    private const int End = 32_000;

    private static readonly Lock Gate = new();

    /// <summary>A random start, so that two test processes at once rarely walk the same ports.</summary>
    private static int _next = First + Random.Shared.Next(End - First);

    public static int Free()
    {
        lock (Gate)
        {
            for (var tried = 0; tried < End - First; tried++)
            {
                var port = _next;
                _next = _next + 1 == End ? First : _next + 1;
                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    return port;
                }
                catch (SocketException)
                {
                    // Taken by something else: try the next one.
                }
            }
        }

        throw new InvalidOperationException($"No free loopback port between {First} and {End}.");
    }
}
