using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StockGrains.Grains.Stock;
using StockGrains.Reservations;
using StockGrains.Security;
using StockGrains.Stock;
using StockGrains.TradePolicies;

namespace StockGrains.Grains.Reservations;

/// <summary>
/// An order reservation: every line held or none. Placement is a persistent saga. The request is stored first; each
/// line hold is written to the state before the line is asked (the reservation id is the hold id on every line, so
/// asking twice holds once); a line without a warehouse is allocated across the trade policy's warehouses by its
/// strategy, guided by the availability read model, and a line that refuses is simply passed over. If anything is
/// short, every line asked is released (a release of a hold that never existed is a no-op). A placement interrupted
/// by a crash is resumed by the next call from its stored progress, so it ends all held or all released.
/// </summary>
public sealed partial class ReservationGrain(
    [PersistentState("reservation", StorageNames.Orders)] IPersistentState<ReservationState> state,
    StockGrainsTime time,
    IOptions<ReservationOptions> options,
    ILogger<ReservationGrain> logger) : Grain, IReservationGrain, IRemindable, IIncomingGrainCallFilter
{
    private IGrainTimer? _expiryTimer;
    private readonly ReservationOptions _options = options.Value;

    private string Id => this.GetPrimaryKeyString();

    private bool Exists => state.RecordExists && state.State.Fingerprint.Length > 0;

    public async Task<ReservationResult> PlaceAsync(PlaceReservation request)
    {
        var fingerprint = Fingerprint(request);
        if (Exists)
        {
            if (!MayTouch(CallerIdentity.Current))
            {
                return new ReservationResult(ReservationOutcome.Forbidden, null);
            }

            if (state.State.Fingerprint != fingerprint)
            {
                return new ReservationResult(ReservationOutcome.ReservationIdReused, View());
            }

            await SettleAsync();
            if (state.State.Status == ReservationStatus.Refused)
            {
                // The refusal is stored before its lines let go, so a call that failed while they did (its caller saw
                // an error, and retries) may have left a hold: the retry lets go again. A line that holds nothing for
                // the order answers at once and records nothing.
                await LetGoAsync();
                return new ReservationResult(RefusalOutcome(), View());
            }

            return new ReservationResult(ReservationOutcome.AlreadyPlaced, View());
        }

        if (!IsWellFormed(request, _options))
        {
            return new ReservationResult(ReservationOutcome.InvalidRequest, null);
        }

        var caller = CallerIdentity.Current;
        var ttl = request.TtlSeconds > 0 ? request.TtlSeconds : _options.DefaultTtlSeconds;
        if (caller?.MaxHoldSeconds is { } longest)
        {
            if (request.TtlSeconds > longest || request.Lines.Any(l => l.Quantity > (caller.MaxQuantityPerLine ?? long.MaxValue)))
            {
                return new ReservationResult(ReservationOutcome.LimitExceeded, null);
            }

            ttl = Math.Min(ttl, longest);
        }
        else if (request.Lines.Any(l => l.Quantity > (caller?.MaxQuantityPerLine ?? long.MaxValue)))
        {
            return new ReservationResult(ReservationOutcome.LimitExceeded, null);
        }

        TradePolicyDefinition? policy = null;
        if (request.TradePolicy is not null)
        {
            policy = await GrainFactory.Reference<ITradePolicyGrain>(request.TradePolicy).GetAsync();
        }

        if (policy is null && (request.TradePolicy is not null || request.Lines.Any(l => l.Warehouse is null)))
        {
            // Nothing is stored: naming a policy that does not exist is bad input, not an order.
            return new ReservationResult(ReservationOutcome.UnknownTradePolicy, null);
        }

        var now = time.GetUtcNow();
        state.State = new ReservationState
        {
            Fingerprint = fingerprint,
            Status = ReservationStatus.Placing,
            PlacedAt = now,
            ExpiresAt = now.AddSeconds(ttl),
            Actor = request.Actor,
            TradePolicy = request.TradePolicy,
            // A policy stored before its grain refused duplicates may name a warehouse twice: planned twice, one
            // stock line would get two attempts under one hold.
            PolicyWarehouses = policy?.Warehouses.Distinct(StringComparer.Ordinal).ToList() ?? [],
            Allocation = policy?.Allocation ?? AllocationStrategy.Priority,
            Requested = [.. request.Lines],
            Attempts = request.Lines.Where(l => l.Warehouse is not null)
                .Select(l => new LineAttempt { Sku = l.Sku, Warehouse = l.Warehouse!, Quantity = l.Quantity, Entered = l.Entered })
                .ToList(),
        };
        await PlanAllocationsAsync();
        await state.WriteStateAsync();
        await SettleAsync(unasked: true);
        return new ReservationResult(state.State.Status == ReservationStatus.Refused ? RefusalOutcome() : ReservationOutcome.Placed, View());
    }

    private ReservationOutcome RefusalOutcome() =>
        state.State.Attempts.Any(a => a.RefusalReason == StockLineRules.HoldLimitReason)
            ? ReservationOutcome.HoldLimitReached
            : ReservationOutcome.InsufficientStock;

    public async Task<ReservationResult> GetAsync()
    {
        if (!Exists)
        {
            return new ReservationResult(ReservationOutcome.NotFound, null);
        }

        // Auditors and admins may read any order; a checkout client only its own.
        var caller = CallerIdentity.Current;
        if (!MayTouch(caller) && !(caller!.Has(Roles.Auditor) || caller.Has(Roles.Admin)))
        {
            return new ReservationResult(ReservationOutcome.Forbidden, null);
        }

        await SettleAsync();
        return new ReservationResult(ReservationOutcome.Unchanged, View());
    }

    /// <summary>
    /// Only the client that placed an order may change it. A call with no identity comes from inside the cluster
    /// (a timer, a reminder, a trusted Orleans client) and may.
    /// </summary>
    private bool MayTouch(CallerIdentity? caller) =>
        caller is null || string.Equals(caller.Client, state.State.Actor, StringComparison.Ordinal);

    public Task<ReservationResult> CommitAsync(string actor) =>
        TransitionAsync(actor, ReservationStatus.Committed, [ReservationStatus.Pending], [ReservationStatus.Committed, ReservationStatus.Shipped]);

    public Task<ReservationResult> ShipAsync(string actor) =>
        TransitionAsync(actor, ReservationStatus.Shipped, [ReservationStatus.Committed], [ReservationStatus.Shipped]);

    public Task<ReservationResult> ReleaseAsync(string actor) =>
        TransitionAsync(actor, ReservationStatus.Released, [ReservationStatus.Pending, ReservationStatus.Committed], [ReservationStatus.Released, ReservationStatus.Expired]);

    /// <summary>
    /// Orders placed before expiry moved to timers registered a reminder. It still settles them once, then goes: the
    /// lines' own expiry (kept durable by the sweeper) frees the units, and every read settles the order.
    /// </summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (Exists)
        {
            await SettleAsync();
        }

        if (await this.GetReminder(reminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>Every call to the order, and then, if nothing can change it any more, its leaving memory.</summary>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        await context.Invoke();
        LeaveIfDone();
    }

    /// <summary>
    /// An order that does not exist, or that has ended (shipped, released, expired or refused), leaves memory when the
    /// call ends rather than after its idle time (<see cref="ReservationOptions.IdleSeconds"/>): a sold-out flash sale
    /// refuses orders by the thousand a second, and nothing will change them. An open one (pending or committed) leaves
    /// too, unless <see cref="ReservationOptions.KeepOpenInMemory"/> keeps it. A later call reads the state again; an
    /// open order that is not in memory at its expiry is expired by its lines a grace period later, and settled by its
    /// next read. An order interrupted while being placed stays for its idle time; its retry or its next read settles it.
    /// </summary>
    private void LeaveIfDone()
    {
        var status = state.State.Status;
        if (!Exists || status is ReservationStatus.Shipped or ReservationStatus.Released or ReservationStatus.Expired or ReservationStatus.Refused
            || (!_options.KeepOpenInMemory && status is ReservationStatus.Pending or ReservationStatus.Committed))
        {
            DeactivateOnIdle();
        }
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Exists && state.State.Status == ReservationStatus.Pending)
        {
            ScheduleExpiry();
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// While the order is active, a timer expires it on time. No durable reminder per order: if the order is not active
    /// at its expiry, each line expires its own hold a grace period later, and any read of the order settles it first,
    /// so nobody ever sees a pending order past its time. An order that leaves memory when its call ends (unless
    /// <see cref="ReservationOptions.KeepOpenInMemory"/>) would only make the timer and drop it again, so it sets none.
    /// </summary>
    private void ScheduleExpiry()
    {
        if (!_options.KeepOpenInMemory)
        {
            return;
        }

        _expiryTimer?.Dispose();
        var wait = state.State.ExpiresAt - time.GetUtcNow();
        _expiryTimer = this.RegisterGrainTimer(static (grain, _) => grain.ExpireOnTimeAsync(), this,
            new GrainTimerCreationOptions(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, Timeout.InfiniteTimeSpan) { Interleave = false });
    }

    private async Task ExpireOnTimeAsync()
    {
        await SettleAsync();
        LeaveIfDone();
    }

    private async Task<ReservationResult> TransitionAsync(
        string actor, ReservationStatus target, ReservationStatus[] allowedFrom, ReservationStatus[] alreadyDone)
    {
        if (!Exists || state.State.Status == ReservationStatus.Refused)
        {
            return new ReservationResult(ReservationOutcome.NotFound, null);
        }

        if (!MayTouch(CallerIdentity.Current))
        {
            return new ReservationResult(ReservationOutcome.Forbidden, null);
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

        var results = await ForEachHeldLineAsync((line, command) => target switch
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

        // Only a pending reservation expires; after any transition the timer has nothing left to do.
        _expiryTimer?.Dispose();
        _expiryTimer = null;
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
    private async Task SettleAsync(bool unasked = false)
    {
        if (state.State.Status == ReservationStatus.Placing)
        {
            await HoldAllOrNoneAsync(unasked);
        }

        if (state.State.Status == ReservationStatus.Pending && time.GetUtcNow() >= state.State.ExpiresAt)
        {
            var expired = await ForEachHeldLineAsync((line, command) => line.ExpireAsync(command), "system");
            if (expired.Any(r => r.Hold?.Status == HoldStatus.Committed))
            {
                // A commit reached some lines, but its call failed before the order recorded it, and nobody asked
                // again before the order's time ran out. A committed hold never expires, so those units would stay
                // reserved for good by an order that says it expired: they are released instead (a hold already
                // expired answers that, and changes nothing).
                await ForEachHeldLineAsync((line, command) => line.ReleaseAsync(command), "system");
            }

            state.State.Status = ReservationStatus.Expired;
            await state.WriteStateAsync();
        }
    }

    /// <param name="unasked">True for an order just planned: none of its attempts has been asked, so none holds yet.</param>
    private async Task HoldAllOrNoneAsync(bool unasked)
    {
        var s = state.State;

        ShortLine? allocationShort = null;
        if (unasked)
        {
            allocationShort = await AskInOrderAsync();
        }
        else
        {
            // After an interruption, every attempt whose outcome is not recorded may hold already: all are asked
            // again, at once (the hold id makes that safe).
            await Task.WhenAll(s.Attempts.Where(a => a.Outcome == AttemptOutcome.Unknown).Select(AskAsync));
        }

        var shortLines = s.Attempts.Where(a => !a.Allocated && a.Outcome == AttemptOutcome.Refused)
            .Select(a => new ShortLine(a.Sku, a.Warehouse, a.Quantity, Math.Max(0, a.Available)))
            .ToList();
        if (shortLines.Count == 0 && allocationShort is not null)
        {
            shortLines.Add(allocationShort);
        }

        if (shortLines.Count == 0)
        {
            foreach (var request in s.Requested.Where(r => r.Warehouse is null))
            {
                if (await AllocateAsync(request) is { } shortLine)
                {
                    shortLines.Add(shortLine);
                    break;
                }
            }
        }

        if (shortLines.Count > 0)
        {
            // Compensation: the refusal is stored first, and then every line asked lets go. Stored after the releases,
            // a crash between the two left a placement that its retry could finish as placed, counting holds the
            // releases had already let go. Stored first, a crash leaves at worst holds that no order counts: the
            // caller's retry lets them go, and without one their lines expire them at the order's expiry.
            s.Status = ReservationStatus.Refused;
            s.ShortLines = shortLines;
            await state.WriteStateAsync();
            await LetGoAsync();
            return;
        }

        s.Status = ReservationStatus.Pending;
        ScheduleExpiry();
        await state.WriteStateAsync();
    }

    /// <summary>
    /// Asks the attempts of a placement that has asked nothing yet: the first in a fixed order (SKU, then warehouse)
    /// alone, and the rest together once it holds. Orders racing for the last units meet at the same first line, and
    /// only its winner goes on to the others. Asked all at once, two orders for two last units could each take one
    /// and both be refused, and nobody got them. A refused first attempt stops the asking. If the trade policy
    /// allocated it, its SKU's other planned warehouses, not yet asked, are dropped from the plan and the careful path
    /// allocates the SKU afresh (without dropping them, it could hold more than the order asked for); then the rest
    /// are asked. Returns the short line when an allocated SKU cannot be covered.
    /// </summary>
    private async Task<ShortLine?> AskInOrderAsync()
    {
        var s = state.State;
        while (s.Attempts.Where(a => a.Outcome == AttemptOutcome.Unknown)
                   .OrderBy(a => a.Sku, StringComparer.Ordinal).ThenBy(a => a.Warehouse, StringComparer.Ordinal)
                   .ToList() is [var first, .. var rest])
        {
            await AskAsync(first);
            if (first.Outcome == AttemptOutcome.Held)
            {
                await Task.WhenAll(rest.Select(AskAsync));
                return null;
            }

            if (!first.Allocated)
            {
                return null;
            }

            s.Attempts.RemoveAll(a => a.Allocated && a.Sku == first.Sku && a.Outcome == AttemptOutcome.Unknown);
            var request = s.Requested.First(r => r.Warehouse is null && r.Sku == first.Sku);
            if (await AllocateAsync(request) is { } shortLine)
            {
                return shortLine;
            }
        }

        return null;
    }

    /// <summary>
    /// Plans every line the trade policy allocates before anything is stored, from the read model, so the plan is
    /// written with the order in one write and every line is asked at once. When the read model says some line
    /// cannot be covered, nothing is planned and placement takes the careful path, one warehouse at a time, which
    /// stops as soon as the rest cannot be covered. A warehouse that refuses a planned hold (the read model lags)
    /// is passed over the same way.
    /// </summary>
    private async Task PlanAllocationsAsync()
    {
        var s = state.State;
        var allocated = s.Requested.Where(r => r.Warehouse is null).ToList();
        if (allocated.Count == 0)
        {
            return;
        }

        var availability = await Task.WhenAll(allocated.Select(r => GrainFactory.AvailabilityAsync(r.Sku, s.PolicyWarehouses)));
        var plan = new List<LineAttempt>();
        for (var i = 0; i < allocated.Count; i++)
        {
            var need = allocated[i].Quantity;
            var candidates = s.Allocation == AllocationStrategy.MostAvailable
                ? availability[i].OrderByDescending(a => a.Contributes).ToList()
                : availability[i].ToList();
            foreach (var candidate in candidates.Where(c => c.Contributes > 0))
            {
                var take = Math.Min(need, candidate.Contributes);
                plan.Add(new LineAttempt { Sku = allocated[i].Sku, Warehouse = candidate.Warehouse, Quantity = take, Allocated = true });
                need -= take;
                if (need == 0)
                {
                    break;
                }
            }

            if (need > 0)
            {
                return;
            }
        }

        s.Attempts.AddRange(plan);
    }

    /// <summary>
    /// Allocates what is still needed of a line that names no warehouse, one warehouse at a time in the policy's
    /// order, taking at most what the read model says each has. It stops as soon as the warehouses not yet tried
    /// cannot cover what is still needed: an order that cannot complete must not sit on units another order could use.
    /// </summary>
    private async Task<ShortLine?> AllocateAsync(ReservationLineRequest request)
    {
        var s = state.State;
        var need = request.Quantity - s.Attempts.Where(a => a.Allocated && a.Sku == request.Sku && a.Outcome == AttemptOutcome.Held).Sum(a => a.Quantity);
        if (need <= 0)
        {
            return null;
        }

        var tried = s.Attempts.Where(a => a.Sku == request.Sku).Select(a => a.Warehouse).ToHashSet(StringComparer.Ordinal);
        var availability = await GrainFactory.AvailabilityAsync(request.Sku, s.PolicyWarehouses);
        var candidates = (s.Allocation == AllocationStrategy.MostAvailable
                ? availability.OrderByDescending(a => a.Contributes)
                : availability.AsEnumerable())
            .Where(a => !tried.Contains(a.Warehouse))
            .ToList();

        for (var i = 0; i < candidates.Count && need > 0; i++)
        {
            if (candidates.Skip(i).Sum(c => c.Contributes) < need)
            {
                break;
            }

            var take = Math.Min(need, candidates[i].Contributes);
            if (take <= 0)
            {
                continue;
            }

            var attempt = new LineAttempt { Sku = request.Sku, Warehouse = candidates[i].Warehouse, Quantity = take, Allocated = true };
            s.Attempts.Add(attempt);
            await state.WriteStateAsync();
            await AskAsync(attempt);
            if (attempt.Outcome == AttemptOutcome.Held)
            {
                need -= take;
            }
        }

        return need > 0 ? new ShortLine(request.Sku, null, request.Quantity, availability.Sum(a => a.Contributes)) : null;
    }

    private async Task AskAsync(LineAttempt attempt)
    {
        var s = state.State;
        var expiry = s.ExpiresAt.AddSeconds(_options.LineHoldGraceSeconds);
        var result = await Line(attempt.Sku, attempt.Warehouse)
            .ReserveAsync(new ReserveCommand(Id, attempt.Quantity, expiry, s.Actor, Reference: $"order:{Id}", Entered: attempt.Entered));
        // A replay answers AlreadyReserved whatever became of the hold since: only one still pending (or committed)
        // holds units for this order; one released or expired on its line is as good as refused.
        attempt.Outcome = result.Outcome is StockLineOutcome.Reserved
            || (result.Outcome is StockLineOutcome.AlreadyReserved && result.Hold?.Status is null or HoldStatus.Pending or HoldStatus.Committed)
            ? AttemptOutcome.Held
            : AttemptOutcome.Refused;
        attempt.Available = result.Line.Available;
        attempt.RefusalReason = result.Outcome == StockLineOutcome.HoldLimitReached ? StockLineRules.HoldLimitReason : null;
    }

    /// <summary>Compensation: every line the order asked lets go of its hold. Release of a hold that never existed is a no-op.</summary>
    private Task LetGoAsync() =>
        Task.WhenAll(state.State.Attempts.Select(a => Line(a.Sku, a.Warehouse).ReleaseAsync(new HoldCommand(Id, state.State.Actor))));

    private Task<StockLineResult[]> ForEachHeldLineAsync(Func<IStockLineGrain, HoldCommand, Task<StockLineResult>> act, string actor) =>
        Task.WhenAll(state.State.Held.Select(a => act(Line(a.Sku, a.Warehouse), new HoldCommand(Id, actor))));

    private IStockLineGrain Line(string sku, string warehouse) =>
        GrainFactory.Reference<IStockLineGrain>(StockKey.Create(warehouse, sku).ToString());

    private ReservationView View() =>
        new(Id, state.State.Status, state.State.ExpiresAt,
            state.State.Held.Select(a => new ReservationLine(a.Sku, a.Warehouse, a.Quantity, a.Entered)).ToList(),
            state.State.ShortLines);

    /// <summary>
    /// What the HTTP API checks before it calls, checked again for trusted Orleans clients, which call the grain
    /// directly. Past this point a malformed order would do harm: two lines on one stock line share one hold, so the
    /// order would count units twice that are held once, and a quantity the line throws on would leave the order stored
    /// half placed, its every retry throwing again.
    /// </summary>
    internal static bool IsWellFormed(PlaceReservation request, ReservationOptions options)
    {
        if (request.Lines is not { Count: > 0 } lines || lines.Count > options.MaxLines
            || request.TtlSeconds < 0 || request.TtlSeconds > options.MaxTtlSeconds)
        {
            return false;
        }

        var named = new HashSet<(string Warehouse, string Sku)>();
        var allocated = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            if (line is null || line.Quantity < 1 || !Ids.IsValid(line.Sku) || (line.Warehouse is not null && !Ids.IsValid(line.Warehouse))
                || !(line.Warehouse is null ? allocated.Add(line.Sku) : named.Add((line.Warehouse, line.Sku))))
            {
                return false;
            }
        }

        return !named.Any(n => allocated.Contains(n.Sku));
    }

    /// <summary>What makes two placements "the same request": the lines in order, the TTL and the trade policy.</summary>
    internal static string Fingerprint(PlaceReservation request)
    {
        var sb = new StringBuilder();
        sb.Append("ttl=").Append(request.TtlSeconds).Append(";tp=").Append(request.TradePolicy);
        foreach (var line in request.Lines)
        {
            sb.Append(';').Append(line.Warehouse ?? "*").Append('/').Append(line.Sku).Append('=').Append(line.Quantity);
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
