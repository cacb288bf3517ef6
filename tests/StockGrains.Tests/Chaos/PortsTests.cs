using System.Net;
using System.Net.Sockets;
using StockGrains.Chaos;

namespace StockGrains.Tests.Chaos;

/// <summary>The ports the tests give the servers they start: never one the kernel may hand to someone else meanwhile.</summary>
public sealed class PortsTests
{
    // Proves the allocator never hands out a port twice, stays below the kernel's ephemeral range, and skips a port that something holds.
    [Fact]
    public void Ports_are_distinct_below_the_ephemeral_range_and_never_one_that_is_held()
    {
        var first = Ports.Free();

        // Hold the port the allocator would try next, as another process might.
        var held = first + 1 == 32_000 ? 20_000 : first + 1;
        using var holder = new TcpListener(IPAddress.Loopback, held);
        holder.Start();

        var ports = new List<int> { first };
        for (var i = 0; i < 50; i++)
        {
            ports.Add(Ports.Free());
        }

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, 20_000, 31_999));
        Assert.DoesNotContain(held, ports);
    }
}
