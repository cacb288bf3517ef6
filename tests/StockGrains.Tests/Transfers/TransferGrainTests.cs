using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using StockGrains.Grains;
using StockGrains.Grains.Transfers;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;
using StockGrains.Transfers;

namespace StockGrains.Tests.Transfers;

[Collection(nameof(ServerCollection))]
public sealed class TransferGrainTests(ServerFixture fixture)
{
    private ServerHost Host => fixture.Host;

    private IStockLineGrain Line(string warehouse, string sku) => Host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(warehouse, sku).ToString());

    // Proves a transfer takes its units from the source once and gives them to the destination once, however often each step is asked.
    [Fact]
    public async Task A_transfer_moves_its_units_once_however_often_it_is_retried()
    {
        var (sku, from, to) = (Fresh.Id("sku"), Fresh.Id("w"), Fresh.Id("w"));
        await Line(from, sku).ReceiveAsync(new ReceiveCommand("in", 10, "op"));
        var transfer = Host.Grains.GetGrain<ITransferGrain>(Fresh.Id("transfer"));
        var command = new CreateTransfer(sku, from, to, 4, "mover");

        Assert.Equal(TransferOutcome.Dispatched, (await transfer.CreateAsync(command)).Outcome);
        Assert.Equal(TransferOutcome.AlreadyDispatched, (await transfer.CreateAsync(command)).Outcome);
        Assert.Equal(TransferOutcome.Received, (await transfer.ReceiveAsync("receiver")).Outcome);
        Assert.Equal(TransferOutcome.Unchanged, (await transfer.ReceiveAsync("receiver")).Outcome);

        Assert.Equal(6, (await Line(from, sku).GetAsync()).OnHand);
        Assert.Equal(4, (await Line(to, sku).GetAsync()).OnHand);
    }

    // Proves a transfer whose dispatch was interrupted, and that the source refuses when the receipt retries it, receives nothing: no units are made out of nothing.
    [Fact]
    public async Task Receiving_a_transfer_whose_source_refuses_the_retried_dispatch_adds_nothing()
    {
        var (sku, from, to) = (Fresh.Id("sku"), Fresh.Id("w"), Fresh.Id("w"));
        await Line(from, sku).ReceiveAsync(new ReceiveCommand("in", 3, "op"));
        var id = Fresh.Id("transfer");
        var transfer = Host.Grains.GetGrain<ITransferGrain>(id);

        // What a dispatch interrupted before the source answered leaves: the request stored, the source not yet asked.
        var state = new GrainState<TransferState>
        {
            State = new TransferState { Sku = sku, FromWarehouse = from, ToWarehouse = to, Quantity = 5, Actor = "mover", Status = TransferStatus.Dispatching },
        };
        var storage = Host.App.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Snapshots);
        await storage.WriteStateAsync("transfer", transfer.GetGrainId(), state);

        Assert.Equal(TransferOutcome.NotFound, (await transfer.ReceiveAsync("receiver")).Outcome);
        Assert.Equal(TransferOutcome.NotFound, (await transfer.ReceiveAsync("receiver")).Outcome);
        Assert.Equal(3, (await Line(from, sku).GetAsync()).OnHand);
        Assert.Equal(0, (await Line(to, sku).GetAsync()).OnHand);
    }
    // Proves a transfer arrives at a destination where a receipt already used the transfer's id as its idempotency key: the two never share an operation id on a line.
    [Fact]
    public async Task A_transfer_arrives_where_a_receipt_already_used_its_id()
    {
        var (sku, from, to) = (Fresh.Id("sku"), Fresh.Id("w"), Fresh.Id("w"));
        var id = Fresh.Id("transfer");
        await Line(from, sku).ReceiveAsync(new ReceiveCommand(id, 10, "op"));
        await Line(to, sku).ReceiveAsync(new ReceiveCommand(id, 1, "op"));
        var transfer = Host.Grains.GetGrain<ITransferGrain>(id);

        Assert.Equal(TransferOutcome.Dispatched, (await transfer.CreateAsync(new CreateTransfer(sku, from, to, 4, "mover"))).Outcome);
        Assert.Equal(TransferOutcome.Received, (await transfer.ReceiveAsync("receiver")).Outcome);
        Assert.Equal(6, (await Line(from, sku).GetAsync()).OnHand);
        Assert.Equal(5, (await Line(to, sku).GetAsync()).OnHand);
    }

    // Proves a transfer stored before transfers had an operation id of their own keeps the bare transfer id its source already recorded: finishing it takes the units once.
    [Fact]
    public async Task A_transfer_stored_before_its_own_operation_id_finishes_under_its_bare_id()
    {
        var (sku, from, to) = (Fresh.Id("sku"), Fresh.Id("w"), Fresh.Id("w"));
        var id = Fresh.Id("transfer");
        await Line(from, sku).ReceiveAsync(new ReceiveCommand("in", 10, "op"));
        var transfer = Host.Grains.GetGrain<ITransferGrain>(id);

        // What an earlier build left when it stopped after the source gave the units: the request stored as dispatching, the source's entry under the bare id.
        var state = new GrainState<TransferState>
        {
            State = new TransferState { Sku = sku, FromWarehouse = from, ToWarehouse = to, Quantity = 4, Actor = "mover", Status = TransferStatus.Dispatching },
        };
        await Host.App.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Snapshots).WriteStateAsync("transfer", transfer.GetGrainId(), state);
        Assert.Equal(StockLineOutcome.TransferredOut, (await Line(from, sku).TransferOutAsync(new TransferCommand(id, 4, to, "mover"))).Outcome);

        Assert.Equal(TransferOutcome.Received, (await transfer.ReceiveAsync("receiver")).Outcome);
        Assert.Equal(6, (await Line(from, sku).GetAsync()).OnHand);
        Assert.Equal(4, (await Line(to, sku).GetAsync()).OnHand);
    }
}
