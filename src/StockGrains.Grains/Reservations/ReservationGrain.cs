using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StockGrains.Reservations;
using StockGrains.Stock;

namespace StockGrains.Grains.Reservations;

/// <summary>
/// An order reservation: every line held or none. Placement is a small persistent saga: the request is stored
/// first, then each line is held with the reservation id as its idempotent hold id, and if any line is short every
/// held line is released (release is idempotent too). A placement interrupted by a crash is finished by the next
/// call, with the same ids, so it ends all held or all released.
/// </summary>
public sealed partial class ReservationGrain(
    [PersistentState("reservation", StorageNames.Snapshots)] IPersistentState<ReservationState> state,
    StockGrainsTime time,
    IOptions<ReservationOptions> options,
    ILogger<ReservationGrain> logger) : Grain, IReservationGrain, IRemindable
{
    private const string ExpiryReminder = "expiry";
    private readonly ReservationOptions _options = options.Value;

    private string Id => this.GetPrimaryKeyString();

    private bool Exists => state.RecordExists && state.State.Fingerprint.Length > 0;

    public async Task<ReservationResult> PlaceAsync(PlaceReservation request)
    {
        var fingerprint = Fingerprint(request);
        if (Exists)
        {
            if (state.State.Fingerprint != fingerprint)
            {
                return new ReservationResult(ReservationOutcome.ReservationIdReused, View());
            }

            await SettleAsync();
            return new ReservationResult(
                state.State.Status == ReservationStatus.Refused ? ReservationOutcome.InsufficientStock : ReservationOutcome.AlreadyPlaced, View());
        }

        var now = time.GetUtcNow();
        var ttl = request.TtlSeconds > 0 ? request.TtlSeconds : _options.DefaultTtlSeconds;
        state.State = new ReservationState
        {
            Fingerprint = fingerprint,
            Status = ReservationStatus.Placing,
            PlacedAt = now,
            ExpiresAt = now.AddSeconds(ttl),
            Actor = request.Actor,
            Lines = request.Lines.Select(l => new ReservationLine(l.Sku, l.Warehouse, l.Quantity, l.Entered)).ToList(),
        };
        await state.WriteStateAsync();
        await SettleAsync();
        return new ReservationResult(
            state.State.Status == ReservationStatus.Refused ? ReservationOutcome.InsufficientStock : ReservationOutcome.Placed, View());
    }

    public async Task<ReservationResult> GetAsync()
    {
        if (!Exists)
        {
            return new ReservationResult(ReservationOutcome.NotFound, null);
        }

        await SettleAsync();
        return new ReservationResult(ReservationOutcome.Unchanged, View());
    }

    public Task<ReservationResult> CommitAsync(string actor) =>
        TransitionAsync(actor, ReservationStatus.Committed, [ReservationStatus.Pending], [ReservationStatus.Committed, ReservationStatus.Shipped]);

    public Task<ReservationResult> ShipAsync(string actor) =>
        TransitionAsync(actor, ReservationStatus.Shipped, [ReservationStatus.Committed], [ReservationStatus.Shipped]);

    public Task<ReservationResult> ReleaseAsync(string actor) =>
        TransitionAsync(actor, ReservationStatus.Released, [ReservationStatus.Pending, ReservationStatus.Committed], [ReservationStatus.Released, ReservationStatus.Expired]);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ExpiryReminder)
        {
            return;
        }

        if (Exists)
        {
            await SettleAsync();
        }

        if (!Exists || state.State.Status != ReservationStatus.Pending)
        {
            var reminder = await this.GetReminder(ExpiryReminder);
            if (reminder is not null)
            {
                await this.UnregisterReminder(reminder);
            }
        }
    }

    private async Task<ReservationResult> TransitionAsync(
        string actor, ReservationStatus target, ReservationStatus[] allowedFrom, ReservationStatus[] alreadyDone)
    {
        if (!Exists || state.State.Status == ReservationStatus.Refused)
        {
            return new ReservationResult(ReservationOutcome.NotFound, null);
        }

        await SettleAsync();
        var current = state.State.Status;
        if (alreadyDone.Contains(current))
        {
            return new ReservationResult(ReservationOutcome.Unchanged, View());
        }

        if (!allowedFrom.Contains(current))
        {
            return new ReservationResult(ReservationOutcome.InvalidTransition, View());
        }

        var results = await ForEachLineAsync((line, command) => target switch
        {
            ReservationStatus.Committed => line.CommitAsync(command),
            ReservationStatus.Shipped => line.ShipAsync(command),
            _ => line.ReleaseAsync(command),
        }, actor);

        foreach (var result in results)
        {
            if (result.Outcome is not (StockLineOutcome.Committed or StockLineOutcome.AlreadyCommitted or StockLineOutcome.Shipped
                or StockLineOutcome.AlreadyShipped or StockLineOutcome.Released or StockLineOutcome.AlreadyReleased or StockLineOutcome.AlreadyExpired))
            {
                // A line disagrees with the order (its hold was closed some other way). Refuse loudly rather than
                // record a status the lines do not have.
                LogLineDisagrees(Id, target, result.Outcome);
                return new ReservationResult(ReservationOutcome.InvalidTransition, View());
            }
        }

        state.State.Status = target;
        await state.WriteStateAsync();
        // Only a pending reservation expires; after any transition the reminder has nothing left to do.
        await ForgetReminderAsync();

        return new ReservationResult(
            target switch
            {
                ReservationStatus.Committed => ReservationOutcome.Committed,
                ReservationStatus.Shipped => ReservationOutcome.Shipped,
                _ => ReservationOutcome.Released,
            },
            View());
    }

    /// <summary>
    /// Brings the stored state to rest: finishes an interrupted placement and expires a pending reservation whose time
    /// has come. Both steps are idempotent, so a repeat (a reminder tick, a retry) is harmless.
    /// </summary>
    private async Task SettleAsync()
    {
        if (state.State.Status == ReservationStatus.Placing)
        {
            await HoldAllOrNoneAsync();
        }

        if (state.State.Status == ReservationStatus.Pending && time.GetUtcNow() >= state.State.ExpiresAt)
        {
            await ForEachLineAsync((line, command) => line.ExpireAsync(command), "system");
            state.State.Status = ReservationStatus.Expired;
            await state.WriteStateAsync();
            await ForgetReminderAsync();
        }
    }

    private async Task HoldAllOrNoneAsync()
    {
        var s = state.State;
        var lineExpiry = s.ExpiresAt.AddSeconds(_options.LineHoldGraceSeconds);
        var results = await Task.WhenAll(s.Lines.Select(l =>
            Line(l).ReserveAsync(new ReserveCommand(Id, l.Quantity, lineExpiry, s.Actor, Reference: $"order:{Id}", Entered: l.Entered))));

        var shortLines = new List<ShortLine>();
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i].Outcome is not (StockLineOutcome.Reserved or StockLineOutcome.AlreadyReserved))
            {
                shortLines.Add(new ShortLine(s.Lines[i].Sku, s.Lines[i].Warehouse, s.Lines[i].Quantity, Math.Max(0, results[i].Line.Available)));
            }
        }

        if (shortLines.Count > 0)
        {
            // Compensation: every line that did hold lets go. Release of a hold that never existed is a no-op.
            await ForEachLineAsync((line, command) => line.ReleaseAsync(command), s.Actor);
            s.Status = ReservationStatus.Refused;
            s.ShortLines = shortLines;
        }
        else
        {
            s.Status = ReservationStatus.Pending;
            var wait = s.ExpiresAt - time.GetUtcNow();
            await this.RegisterOrUpdateReminder(ExpiryReminder, wait < TimeSpan.Zero ? TimeSpan.Zero : wait, TimeSpan.FromMinutes(1));
        }

        await state.WriteStateAsync();
    }

    private async Task ForgetReminderAsync()
    {
        var reminder = await this.GetReminder(ExpiryReminder);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private Task<StockLineResult[]> ForEachLineAsync(Func<IStockLineGrain, HoldCommand, Task<StockLineResult>> act, string actor) =>
        Task.WhenAll(state.State.Lines.Select(l => act(Line(l), new HoldCommand(Id, actor))));

    private IStockLineGrain Line(ReservationLine line) =>
        GrainFactory.GetGrain<IStockLineGrain>(StockKey.Create(line.Warehouse, line.Sku).ToString());

    private ReservationView View() =>
        new(Id, state.State.Status, state.State.ExpiresAt, state.State.Lines, state.State.ShortLines);

    /// <summary>What makes two placements "the same request": the lines in order, the TTL and the trade policy.</summary>
    private static string Fingerprint(PlaceReservation request)
    {
        var sb = new StringBuilder();
        sb.Append("ttl=").Append(request.TtlSeconds).Append(";tp=").Append(request.TradePolicy);
        foreach (var line in request.Lines)
        {
            sb.Append(';').Append(line.Warehouse).Append('/').Append(line.Sku).Append('=').Append(line.Quantity);
            if (line.Entered is { } entered)
            {
                sb.Append('(').Append(entered.Quantity).Append(' ').Append(entered.Unit).Append(')');
            }
        }

        return sb.ToString();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Reservation {ReservationId}: a line answered {Outcome} to {Target}; the order keeps its status.")]
    private partial void LogLineDisagrees(string reservationId, ReservationStatus target, StockLineOutcome outcome);
}
