using Microsoft.Extensions.Logging.Abstractions;
using StockGrains.Grains.TradePolicies;
using StockGrains.Stock;
using StockGrains.TradePolicies;

namespace StockGrains.Tests.TradePolicies;

/// <summary>The silo's availability publisher and the shard function: what is sent, how often, and to which shard.</summary>
public sealed class AvailabilityPublisherTests
{
    private readonly List<(int Shard, StockLineView[] Lines)> _sent = [];

    private AvailabilityPublisher Publisher() =>
        new((shard, lines) =>
        {
            _sent.Add((shard, lines));
            return Task.CompletedTask;
        }, NullLogger<AvailabilityPublisher>.Instance);

    private static StockLineView View(string warehouse, string sku, long sequence) =>
        new(warehouse, sku, 100, sequence, 0, 0, 100 - sequence, sequence, NegativeStockPolicy.Block);

    // Proves a line that changes many times between sends is sent once, with its latest balances, to its SKU's shard.
    [Fact]
    public void A_line_that_changes_many_times_between_sends_is_sent_once_with_its_latest_view()
    {
        var publisher = Publisher();
        for (var sequence = 1; sequence <= 50; sequence++)
        {
            publisher.Publish("w1/mug", View("w1", "mug", sequence));
        }

        Assert.Equal(1, publisher.Flush());
        var (shard, lines) = Assert.Single(_sent);
        Assert.Equal(Availability.ShardOf("mug"), shard);
        Assert.Equal(50, Assert.Single(lines).Sequence);
        Assert.Equal(0, publisher.Waiting);
    }

    // Proves the changes of many lines share one message per shard, every line once, and nothing is sent when nothing changed.
    [Fact]
    public void Many_lines_share_one_message_per_shard_and_an_idle_publisher_sends_nothing()
    {
        var publisher = Publisher();
        var skus = Enumerable.Range(0, 500).Select(i => $"sku-{i}").ToArray();
        foreach (var sku in skus)
        {
            publisher.Publish($"w1/{sku}", View("w1", sku, 1));
            publisher.Publish($"w2/{sku}", View("w2", sku, 2));
        }

        var messages = publisher.Flush();

        var shards = skus.Select(Availability.ShardOf).Distinct().Count();
        Assert.Equal(shards, messages);
        Assert.Equal(shards, _sent.Select(m => m.Shard).Distinct().Count());
        Assert.All(_sent, m => Assert.All(m.Lines, l => Assert.Equal(m.Shard, Availability.ShardOf(l.Sku))));
        Assert.Equal(1_000, _sent.Sum(m => m.Lines.Length));
        Assert.Equal(1_000, _sent.SelectMany(m => m.Lines).Select(l => (l.Warehouse, l.Sku)).Distinct().Count());

        _sent.Clear();
        Assert.Equal(0, publisher.Flush());
        Assert.Empty(_sent);
    }

    // Proves one shard's changed lines are split into messages of at most the limit, and none is lost or sent twice.
    [Fact]
    public void A_shard_with_more_changed_lines_than_one_message_holds_gets_several()
    {
        var publisher = Publisher();
        var count = AvailabilityPublisher.MaxLinesPerMessage * 2 + 7;
        for (var i = 0; i < count; i++)
        {
            publisher.Publish($"w{i}/mug", View($"w{i}", "mug", i + 1));
        }

        Assert.Equal(3, publisher.Flush());
        Assert.All(_sent, m => Assert.InRange(m.Lines.Length, 1, AvailabilityPublisher.MaxLinesPerMessage));
        Assert.Equal(count, _sent.SelectMany(m => m.Lines).Select(l => l.Warehouse).Distinct().Count());
    }

    // Proves a send that fails is logged and dropped without stopping the sends to the other shards.
    [Fact]
    public void A_failed_send_does_not_stop_the_others()
    {
        var attempted = new List<int>();
        var publisher = new AvailabilityPublisher((shard, _) =>
        {
            attempted.Add(shard);
            return attempted.Count == 1 ? throw new InvalidOperationException("silo stopping") : Task.CompletedTask;
        }, NullLogger<AvailabilityPublisher>.Instance);
        publisher.Publish("w1/mug", View("w1", "mug", 1));
        publisher.Publish("w1/sku-1", View("w1", "sku-1", 1));

        Assert.Equal(2, publisher.Flush());
        Assert.Equal(2, attempted.Distinct().Count());
    }

    // Proves the shard of a SKU is the same in every process and version: the values were worked out by hand from FNV-1a.
    [Theory]
    [InlineData("mug", 48)]
    [InlineData("sku-1", 44)]
    [InlineData("tea-pot", 47)]
    [InlineData("éclair", 5)]
    [InlineData("A", 12)]
    public void A_skus_shard_does_not_depend_on_the_process(string sku, int shard) =>
        Assert.Equal(shard, Availability.ShardOf(sku));
}
