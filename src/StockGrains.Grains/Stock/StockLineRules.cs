using StockGrains.Stock;

namespace StockGrains.Grains.Stock;

/// <summary>
/// A decision of the rules: the answer to give, the ledger entry to append (none for a replay or a no-op), and
/// the ledger sequence that must be durable before the answer may be given.
/// </summary>
public readonly record struct Decision(StockLineResult Result, LedgerEntry? Entry, long DurableAt);

/// <summary>
/// The rules of one stock line: plain C#, no Orleans, no I/O, no clock (time is passed in). Every method decides
/// synchronously and, when it changes the line, produces exactly one immutable ledger entry which it applies to
/// the state through <see cref="Apply"/> — the same path that replays a stored ledger — so that a decision and
/// its replay can never disagree.
/// </summary>
public sealed class StockLineRules
{
    /// <summary>How many finished operations and closed holds one line remembers in memory before it forgets the oldest.</summary>
    public const int DefaultRememberLimit = 10_000;

    private readonly HoldTable _holds = new();
    private readonly Dictionary<string, LedgerEntry> _operations = new(StringComparer.Ordinal);
    private readonly Queue<(long Sequence, string Id)> _forgettable = new();

    // The last entry the ledger is known to hold: an id finished by a later one is not forgotten yet (see Durable).
    private long _durable;
    private readonly Dictionary<string, Approval> _approvals = new(StringComparer.Ordinal);
    private readonly int _rememberLimit;
    private readonly long _countApprovalThreshold;

    /// <param name="key">The line.</param>
    /// <param name="rememberLimit">Finished operations kept in memory before the oldest are forgotten.</param>
    /// <param name="countApprovalThreshold">A count whose variance exceeds this many units (either way) waits for approval.</param>
    public StockLineRules(StockKey key, int rememberLimit = DefaultRememberLimit, long countApprovalThreshold = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rememberLimit, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(countApprovalThreshold);
        Key = key;
        _rememberLimit = rememberLimit;
        _countApprovalThreshold = countApprovalThreshold;
    }

    public StockKey Key { get; }

    /// <summary>A deliberately broken build for proving invariant checks (see StockLineOptions.UnsafeSkipStockCheck).</summary>
    public bool SkipStockCheck { get; init; }

    public long OnHand { get; private set; }

    public long Reserved { get; private set; }

    public long Committed { get; private set; }

    public long SafetyStock { get; private set; }

    public NegativeStockPolicy Policy { get; private set; }

    /// <summary>Whether the policy was set on the line itself (a SKU-level change then leaves it alone).</summary>
    public PolicySource PolicySource { get; private set; } = PolicySource.Sku;

    /// <summary>The sequence of the movement that raised the open negative-stock alert; null when none is open.</summary>
    public long? AlertCause { get; private set; }

    public IEnumerable<ApprovalView> PendingApprovals =>
        _approvals.Values.Where(a => a.Status == ApprovalStatus.Pending).OrderBy(a => a.Request.Sequence).Select(ToView);

    public long Sequence { get; private set; }

    public long Available => OnHand - Reserved - SafetyStock;

    /// <summary>True once the line has forgotten an operation: an unknown id must then be looked up in the store.</summary>
    public bool HasForgotten { get; private set; }

    /// <summary>
    /// Pending holds per owner (the actor that placed them), for the per-client hold cap, and the one copy of the owner's
    /// name that all its holds share.
    /// </summary>
    private readonly Dictionary<string, (string Owner, int Count)> _pendingByOwner = new(StringComparer.Ordinal);

    /// <summary>How many pending holds this owner keeps on the line.</summary>
    public int PendingHoldsOf(string owner) => _pendingByOwner.TryGetValue(owner, out var pending) ? pending.Count : 0;

    /// <summary>
    /// The fingerprints of reservations of 1 to 100 units, one string each. A hot line keeps hundreds of thousands of
    /// pending holds; sharing its fingerprint and its owner's name, instead of keeping copies, halves the objects a hold
    /// keeps alive (measured: a third less time in GC pauses on the hot SKU).
    /// </summary>
    private static readonly string[] ReserveFingerprints = Enumerable.Range(0, 101).Select(q => $"reserve|{q}").ToArray();

    private static string ReserveFingerprint(long quantity) => quantity is >= 1 and <= 100 ? ReserveFingerprints[quantity] : $"reserve|{quantity}";

    /// <summary>The shared copy of a fingerprint read back from the ledger, when it is a common one.</summary>
    private static string Shared(string fingerprint, long quantity) =>
        quantity is >= 1 and <= 100 && ReserveFingerprints[quantity] == fingerprint ? ReserveFingerprints[quantity] : fingerprint;

    /// <summary>The copy of the owner's name that its pending holds already share, or this one when it has none.</summary>
    private string OwnerOf(string actor) => _pendingByOwner.TryGetValue(actor, out var pending) ? pending.Owner : actor;

    /// <summary>How many holds, operations and approvals a snapshot of this line carries: its size, roughly.</summary>
    public int SnapshotSize => _holds.Count + _operations.Count + _approvals.Count;

    public StockLineView View => new(Key.Warehouse, Key.Sku, OnHand, Reserved, Committed, SafetyStock, Available, Sequence, Policy)
    {
        Backordered = Math.Max(0, Reserved - Math.Max(0, OnHand)),
        AlertCause = AlertCause,
        // Every answer carries a view, and counting through LINQ allocated an enumerator even when there is no approval.
        PendingApprovals = _approvals.Count == 0 ? 0 : _approvals.Values.Count(a => a.Status == ApprovalStatus.Pending),
    };

    /// <summary>The line as <paramref name="entry"/> left it, from the balances the entry records: what is durable once it is.</summary>
    public StockLineView ViewAfter(LedgerEntry entry) =>
        new(Key.Warehouse, Key.Sku, entry.OnHandAfter, entry.ReservedAfter, entry.CommittedAfter, entry.SafetyStockAfter,
            entry.OnHandAfter - entry.ReservedAfter - entry.SafetyStockAfter, entry.Sequence, entry.PolicyAfter)
        {
            Backordered = Math.Max(0, entry.ReservedAfter - Math.Max(0, entry.OnHandAfter)),
            AlertCause = entry.AlertCauseAfter,
        };

    /// <summary>
    /// A line is negative when it holds more than it physically has (or has less than nothing). Under <c>allow</c>
    /// holding more than on hand is a backorder by choice, not an error; on hand below zero always is.
    /// </summary>
    public static bool IsNegative(long onHand, long reserved, NegativeStockPolicy policy) =>
        onHand < 0 || (policy != NegativeStockPolicy.Allow && onHand < reserved);

    public IEnumerable<Hold> Holds => _holds.All;

    /// <summary>The earliest expiry among pending holds, if any.</summary>
    public DateTimeOffset? NextExpiry => _holds.NextExpiry;

    /// <summary>
    /// True when <paramref name="id"/> (an operation or reservation id) is unknown here but might be known to the
    /// store, because this line has forgotten old operations. The caller looks it up and calls <see cref="Remember"/>.
    /// </summary>
    public bool NeedsLookup(string id) => HasForgotten && !_holds.Contains(id) && !_operations.ContainsKey(id) && !_approvals.ContainsKey(id);

    public Decision Receive(ReceiveCommand command, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(command.Quantity, 1);
        var fingerprint = $"receive|{command.Quantity}|{command.Reference}";
        if (Earlier(command.OperationId, fingerprint) is { } replay)
        {
            return replay;
        }

        var entry = Finish(Next(LedgerEntryKind.Received, command.Quantity, command.OperationId, command.Actor, now, fingerprint) with
        {
            Reference = command.Reference,
            Unit = command.Entered?.Unit,
            UnitQuantity = command.Entered?.Quantity,
            OnHandAfter = OnHand + command.Quantity,
        });
        Apply(entry);
        return new Decision(new StockLineResult(StockLineOutcome.Received, View, null) { Entry = entry }, entry, entry.Sequence);
    }

    /// <summary>
    /// Holds units, or records why not. <paramref name="maxPendingPerOwner"/> caps the pending holds the command's
    /// actor may keep here; the refusal is a ledger entry like any other, so a retry gets it back.
    /// </summary>
    public Decision Reserve(ReserveCommand command, DateTimeOffset now, int? maxPendingPerOwner = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(command.Quantity, 1);
        var fingerprint = ReserveFingerprint(command.Quantity);
        if (_holds.TryGet(command.ReservationId, out var hold))
        {
            if (hold.Fingerprint != fingerprint)
            {
                return Refuse(StockLineOutcome.ReservedWithDifferentQuantity, hold.Sequence, hold);
            }

            var outcome = hold.Status != HoldStatus.Refused ? StockLineOutcome.AlreadyReserved : RefusalOutcome(hold.RefusalReason);
            return new Decision(new StockLineResult(outcome, View, hold.ToView(), Replayed: true), null, hold.Sequence);
        }

        if (_operations.ContainsKey(command.ReservationId))
        {
            return Refuse(StockLineOutcome.OperationIdReused, Sequence);
        }

        var capped = maxPendingPerOwner is { } cap && PendingHoldsOf(command.Actor) >= cap;
        var blocked = AlertCause is not null;
        var fits = !capped && (SkipStockCheck || (!blocked && (Policy == NegativeStockPolicy.Allow || Available >= command.Quantity)));
        var reason = capped ? HoldLimitReason : blocked ? BlockedByAlertReason : InsufficientStockReason;
        // Made once, with its balances and alert state worked out first, rather than made and then copied by `with` once
        // or twice: the optimising JIT drops such copies when it can prove they do not escape, but not in every tier.
        var kind = fits ? LedgerEntryKind.Reserved : LedgerEntryKind.Refused;
        var sequence = Sequence + 1;
        var reservedAfter = fits ? Reserved + command.Quantity : Reserved;
        var entry = new LedgerEntry(sequence, kind, command.Quantity, fits ? null : reason, command.ReservationId, command.ReservationId,
            command.Actor, command.Reference, now, OnHand, reservedAfter, Committed, SafetyStock, Policy, command.ExpiresAt, fingerprint)
        {
            Unit = fits ? command.Entered?.Unit : null,
            UnitQuantity = fits ? command.Entered?.Quantity : null,
            AlertCauseAfter = AlertAfter(OnHand, reservedAfter, Policy, kind, sequence),
        };
        Apply(entry);
        var made = new HoldView(command.ReservationId, command.Quantity, fits ? HoldStatus.Pending : HoldStatus.Refused, command.ExpiresAt);
        var result = new StockLineResult(fits ? StockLineOutcome.Reserved : RefusalOutcome(reason), View, made);
        return new Decision(result, entry, entry.Sequence);
    }

    /// <summary>The refusal reason recorded when a client's pending-hold cap is reached.</summary>
    public const string HoldLimitReason = "hold_limit";

    private const string InsufficientStockReason = "insufficient_stock";
    private const string BlockedByAlertReason = "negative_stock_alert";

    /// <summary>
    /// The one copy of a reservation's refusal reason: a refused hold is kept until it is forgotten, and a reason read
    /// back from the ledger or a snapshot is a new string each time.
    /// </summary>
    private static string? SharedReason(string? reason) => reason switch
    {
        InsufficientStockReason => InsufficientStockReason,
        BlockedByAlertReason => BlockedByAlertReason,
        HoldLimitReason => HoldLimitReason,
        _ => reason,
    };

    public Decision Commit(HoldCommand command, DateTimeOffset now) =>
        Transition(command, now, LedgerEntryKind.Committed);

    public Decision Ship(HoldCommand command, DateTimeOffset now) =>
        Transition(command, now, LedgerEntryKind.Shipped);

    public Decision Release(HoldCommand command, DateTimeOffset now) =>
        Transition(command, now, LedgerEntryKind.Released);

    public Decision Expire(HoldCommand command, DateTimeOffset now) =>
        Transition(command, now, LedgerEntryKind.Expired);

    public Decision SetPolicy(SetPolicyCommand command, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(command.SafetyStock);
        var fingerprint = $"policy|{command.NegativeStock}|{command.SafetyStock}|{command.Source}";
        if (Earlier(command.OperationId, fingerprint) is { } replay)
        {
            return replay;
        }

        if (command.Source == PolicySource.Sku && PolicySource == PolicySource.Line)
        {
            // The line's own policy outranks the SKU's default.
            return new Decision(new StockLineResult(StockLineOutcome.AlreadyPolicyChanged, View, null), null, Sequence);
        }

        var entry = Finish(Next(LedgerEntryKind.PolicyChanged, 0, command.OperationId, command.Actor, now, fingerprint) with
        {
            SafetyStockAfter = command.Source == PolicySource.Sku ? SafetyStock : command.SafetyStock,
            PolicyAfter = command.NegativeStock,
            Reason = command.Source == PolicySource.Sku ? "sku" : "line",
        });
        Apply(entry);
        return new Decision(new StockLineResult(StockLineOutcome.PolicyChanged, View, null), entry, entry.Sequence);
    }

    /// <summary>
    /// An operator adjustment. A write-off may take only units that no reservation holds: otherwise it is refused
    /// (<c>block</c>), parked for a second person (<c>approval</c>), or applied (<c>allow</c>).
    /// </summary>
    public Decision Adjust(AdjustCommand command, DateTimeOffset now)
    {
        if (command.QuantityDelta == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(command), "An adjustment moves at least one unit.");
        }

        var reason = AdjustmentReasonText(command.Reason);
        var fingerprint = $"adjust|{command.QuantityDelta}|{reason}|{command.Reference}|{command.Note}";
        if (Earlier(command.OperationId, fingerprint) is { } replay)
        {
            return replay;
        }

        var onHandAfter = OnHand + command.QuantityDelta;
        var takesHeldUnits = command.QuantityDelta < 0 && onHandAfter < Reserved;
        var kind = !takesHeldUnits || Policy == NegativeStockPolicy.Allow ? LedgerEntryKind.Adjusted
            : Policy == NegativeStockPolicy.Approval ? LedgerEntryKind.ApprovalRequested
            : LedgerEntryKind.Refused;
        var entry = Finish(Next(kind, command.QuantityDelta, command.OperationId, command.Actor, now, fingerprint) with
        {
            Reason = kind == LedgerEntryKind.Refused ? (onHandAfter < 0 ? "insufficient_on_hand" : "units_reserved") : reason,
            Reference = command.Reference,
            Note = command.Note,
            Unit = command.Entered?.Unit,
            UnitQuantity = command.Entered?.Quantity,
            ApprovalId = kind == LedgerEntryKind.ApprovalRequested ? command.OperationId : null,
            OnHandAfter = kind == LedgerEntryKind.Adjusted ? onHandAfter : OnHand,
        });
        Apply(entry);
        return Decided(entry);
    }

    /// <summary>
    /// A physical count. The variance is <c>counted − on hand at the sequence the count started</c>
    /// (<paramref name="onHandAtStart"/>, read from the ledger by the caller; now when the count names no sequence),
    /// so movements that landed while people counted are kept. A variance over the threshold waits for approval.
    /// </summary>
    public Decision Count(CountCommand command, long? onHandAtStart, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(command.CountedQuantity);
        var fingerprint = $"count|{command.CountedQuantity}|{command.CountStartedAtSequence}|{command.Note}";
        if (Earlier(command.OperationId, fingerprint) is { } replay)
        {
            return replay;
        }

        if (command.CountStartedAtSequence is { } start && (start < 0 || start > Sequence))
        {
            return Refuse(StockLineOutcome.CountSequenceInvalid, Sequence);
        }

        var baseline = command.CountStartedAtSequence is null || command.CountStartedAtSequence == Sequence ? OnHand
            : onHandAtStart ?? throw new ArgumentNullException(nameof(onHandAtStart), "A count at an earlier sequence needs on hand at that sequence.");
        var variance = command.CountedQuantity - baseline;
        var needsApproval = Math.Abs(variance) > _countApprovalThreshold;
        var kind = needsApproval ? LedgerEntryKind.ApprovalRequested : LedgerEntryKind.Counted;
        var entry = Finish(Next(kind, variance, command.OperationId, command.Actor, now, fingerprint) with
        {
            Reason = "count",
            Note = command.Note,
            Unit = command.Entered?.Unit,
            UnitQuantity = command.Entered?.Quantity,
            CountedQuantity = command.CountedQuantity,
            CountStartedAtSequence = command.CountStartedAtSequence,
            ApprovalId = needsApproval ? command.OperationId : null,
            OnHandAfter = needsApproval ? OnHand : OnHand + variance,
        });
        Apply(entry);
        return Decided(entry);
    }

    /// <summary>
    /// Approves or rejects a pending approval. The approver must be another person, and approval re-checks the line
    /// as it is now: a write-off can never take more units than are on hand at all.
    /// </summary>
    public Decision ResolveApproval(ResolveApprovalCommand command, DateTimeOffset now)
    {
        if (!_approvals.TryGetValue(command.ApprovalId, out var approval))
        {
            return Refuse(StockLineOutcome.ApprovalNotFound, Sequence);
        }

        if (approval.Status != ApprovalStatus.Pending)
        {
            var outcome = approval.Status == ApprovalStatus.Approved ? StockLineOutcome.AlreadyApproved : StockLineOutcome.AlreadyRejected;
            return new Decision(new StockLineResult(outcome, View, null, Replayed: true) { Approval = ToView(approval) }, null, Sequence);
        }

        var request = approval.Request;
        if (string.Equals(command.Actor, request.Actor, StringComparison.Ordinal))
        {
            return new Decision(new StockLineResult(StockLineOutcome.SameActor, View, null) { Approval = ToView(approval) }, null, Sequence);
        }

        if (command.Approve && OnHand + request.Quantity < 0 && Policy != NegativeStockPolicy.Allow)
        {
            return new Decision(new StockLineResult(StockLineOutcome.InsufficientOnHand, View, null) { Approval = ToView(approval) }, null, Sequence);
        }

        var isCount = request.Reason == "count";
        var kind = !command.Approve ? LedgerEntryKind.ApprovalRejected : isCount ? LedgerEntryKind.Counted : LedgerEntryKind.Adjusted;
        var entry = Finish(Next(kind, request.Quantity, $"{command.ApprovalId}:{(command.Approve ? "approve" : "reject")}", command.Actor, now,
            command.Approve ? "approve" : "reject") with
        {
            Reason = request.Reason,
            Reference = request.Reference,
            Note = command.Note ?? request.Note,
            Unit = request.Unit,
            UnitQuantity = request.UnitQuantity,
            CountedQuantity = request.CountedQuantity,
            CountStartedAtSequence = request.CountStartedAtSequence,
            ApprovalId = command.ApprovalId,
            OnHandAfter = command.Approve ? OnHand + request.Quantity : OnHand,
        });
        Apply(entry);
        var result = new StockLineResult(command.Approve ? StockLineOutcome.Approved : StockLineOutcome.Rejected, View, null)
        {
            Approval = ToView(approval),
        };
        return new Decision(result, entry, entry.Sequence);
    }

    /// <summary>A customer return restocks on hand.</summary>
    public Decision Return(ReturnCommand command, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(command.Quantity, 1);
        var fingerprint = $"return|{command.Quantity}|{command.Reason}|{command.Reference}|{command.Note}";
        if (Earlier(command.OperationId, fingerprint) is { } replay)
        {
            return replay;
        }

        var entry = Finish(Next(LedgerEntryKind.Returned, command.Quantity, command.OperationId, command.Actor, now, fingerprint) with
        {
            Reason = command.Reason,
            Reference = command.Reference,
            Note = command.Note,
            Unit = command.Entered?.Unit,
            UnitQuantity = command.Entered?.Quantity,
            OnHandAfter = OnHand + command.Quantity,
        });
        Apply(entry);
        return Decided(entry);
    }

    /// <summary>Units leave for another warehouse. A transfer never takes units a reservation holds.</summary>
    public Decision TransferOut(TransferCommand command, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(command.Quantity, 1);
        var fingerprint = $"transfer-out|{command.Quantity}|{command.OtherWarehouse}";
        if (Earlier(command.TransferId, fingerprint) is { } replay)
        {
            return replay;
        }

        var onHandAfter = OnHand - command.Quantity;
        var fits = onHandAfter >= Reserved && onHandAfter >= 0;
        var entry = Finish(Next(fits ? LedgerEntryKind.TransferredOut : LedgerEntryKind.Refused, command.Quantity, command.TransferId,
            command.Actor, now, fingerprint) with
        {
            Reason = fits ? null : onHandAfter < 0 ? "insufficient_on_hand" : "units_reserved",
            Counterparty = command.OtherWarehouse,
            OnHandAfter = fits ? onHandAfter : OnHand,
        });
        Apply(entry);
        return Decided(entry);
    }

    /// <summary>Units arrive from another warehouse.</summary>
    public Decision TransferIn(TransferCommand command, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(command.Quantity, 1);
        var fingerprint = $"transfer-in|{command.Quantity}|{command.OtherWarehouse}";
        if (Earlier(command.TransferId, fingerprint) is { } replay)
        {
            return replay;
        }

        var entry = Finish(Next(LedgerEntryKind.TransferredIn, command.Quantity, command.TransferId, command.Actor, now, fingerprint) with
        {
            Counterparty = command.OtherWarehouse,
            OnHandAfter = OnHand + command.Quantity,
        });
        Apply(entry);
        return Decided(entry);
    }

    /// <summary>Expires every pending hold whose stored expiry time has come, oldest first.</summary>
    public IReadOnlyList<LedgerEntry> ExpireDue(DateTimeOffset now, int max = int.MaxValue)
    {
        List<LedgerEntry>? entries = null;
        while ((entries?.Count ?? 0) < max && _holds.TryTakeDue(now, out var due))
        {
            var entry = TransitionEntry(due, LedgerEntryKind.Expired, "system", now);
            Apply(entry);
            (entries ??= []).Add(entry);
        }

        return entries ?? (IReadOnlyList<LedgerEntry>)[];
    }

    /// <summary>
    /// Expires the hold <paramref name="reservationId"/> if it is pending and its time has come, and returns the entry;
    /// null otherwise. <see cref="ExpireDue"/> takes due holds in expiry order, at most so many a turn, so a hold past its
    /// time can still be pending when a command about it arrives.
    /// </summary>
    public LedgerEntry? ExpireIfDue(string reservationId, DateTimeOffset now)
    {
        if (!_holds.TryGet(reservationId, out var hold) || hold.Status != HoldStatus.Pending || hold.ExpiresAt > now)
        {
            return null;
        }

        var entry = TransitionEntry(hold, LedgerEntryKind.Expired, "system", now);
        Apply(entry);
        return entry;
    }

    /// <summary>
    /// Applies one ledger entry to the state: the only place the state changes. Used both for fresh decisions and
    /// for replaying a stored ledger; it checks that the balances it computes equal the balances the entry recorded.
    /// </summary>
    public void Apply(LedgerEntry entry)
    {
        if (entry.Sequence != Sequence + 1)
        {
            throw new LedgerMismatchException($"{Key}: entry {entry.Sequence} does not follow {Sequence}.");
        }

        // Only a hold's own transitions name a hold they do not create, and each case below records its move.
        Hold hold = default;
        if (entry.ReservationId is { } reservationId && entry.Kind is not (LedgerEntryKind.Reserved or LedgerEntryKind.Refused or LedgerEntryKind.Returned))
        {
            if (!_holds.TryGet(reservationId, out hold))
            {
                throw new LedgerMismatchException($"{Key}: entry {entry.Sequence} names unknown hold '{reservationId}'.");
            }
        }

        long onHand = OnHand, reserved = Reserved, committed = Committed;
        switch (entry.Kind)
        {
            case LedgerEntryKind.Received or LedgerEntryKind.Returned or LedgerEntryKind.TransferredIn:
                onHand += entry.Quantity;
                Remember(entry);
                break;
            case LedgerEntryKind.TransferredOut:
                onHand -= entry.Quantity;
                Remember(entry);
                break;
            case LedgerEntryKind.Adjusted or LedgerEntryKind.Counted:
                onHand += entry.Quantity;
                Remember(entry);
                Resolve(entry, ApprovalStatus.Approved);
                break;
            case LedgerEntryKind.ApprovalRequested:
                _approvals.Add(entry.ApprovalId!, new Approval(entry));
                Remember(entry);
                break;
            case LedgerEntryKind.ApprovalRejected:
                Resolve(entry, ApprovalStatus.Rejected);
                break;
            case LedgerEntryKind.PolicyChanged:
                PolicySource = entry.Reason == "sku" ? PolicySource.Sku : PolicySource.Line;
                Remember(entry);
                break;
            case LedgerEntryKind.Refused when entry.ReservationId is null:
                Remember(entry);
                break;
            case LedgerEntryKind.Reserved:
                reserved += entry.Quantity;
                hold = new Hold(entry.ReservationId!, entry.Quantity, HoldStatus.Pending, entry.ExpiresAt!.Value, Shared(entry.Fingerprint, entry.Quantity),
                    entry.Sequence)
                {
                    Owner = OwnerOf(entry.Actor),
                };
                _holds.Add(hold);
                CountPending(hold, +1);
                break;
            case LedgerEntryKind.Refused:
                hold = new Hold(entry.ReservationId!, entry.Quantity, HoldStatus.Refused, entry.ExpiresAt ?? entry.At, Shared(entry.Fingerprint, entry.Quantity),
                    entry.Sequence)
                {
                    RefusalReason = SharedReason(entry.Reason),
                };
                _holds.Add(hold);
                Forgettable(hold.ReservationId, entry.Sequence);
                break;
            case LedgerEntryKind.Committed:
                Require(hold, entry, HoldStatus.Pending);
                committed += hold.Quantity;
                CountPending(hold, -1);
                _holds.Move(hold.ReservationId, HoldStatus.Committed, entry.Sequence);
                break;
            case LedgerEntryKind.Shipped:
                Require(hold, entry, HoldStatus.Committed);
                onHand -= hold.Quantity;
                reserved -= hold.Quantity;
                committed -= hold.Quantity;
                Close(hold, HoldStatus.Shipped, entry.Sequence);
                break;
            case LedgerEntryKind.Released:
                Require(hold, entry, HoldStatus.Pending, HoldStatus.Committed);
                reserved -= hold.Quantity;
                committed -= hold.Status == HoldStatus.Committed ? hold.Quantity : 0;
                Close(hold, HoldStatus.Released, entry.Sequence);
                break;
            case LedgerEntryKind.Expired:
                Require(hold, entry, HoldStatus.Pending);
                reserved -= hold.Quantity;
                Close(hold, HoldStatus.Expired, entry.Sequence);
                break;
            default:
                throw new LedgerMismatchException($"{Key}: unknown entry kind {entry.Kind}.");
        }

        var alert = AlertAfter(onHand, reserved, entry.PolicyAfter, entry.Kind, entry.Sequence);
        OnHand = onHand;
        Reserved = reserved;
        Committed = committed;
        SafetyStock = entry.SafetyStockAfter;
        Policy = entry.PolicyAfter;
        Sequence = entry.Sequence;
        AlertCause = alert;
        if (alert != entry.AlertCauseAfter)
        {
            throw new LedgerMismatchException($"{Key}: replaying entry {entry.Sequence} gives alert {alert}; the entry recorded {entry.AlertCauseAfter}.");
        }
        if (OnHand != entry.OnHandAfter || Reserved != entry.ReservedAfter || Committed != entry.CommittedAfter)
        {
            throw new LedgerMismatchException(
                $"{Key}: replaying entry {entry.Sequence} gives on hand {OnHand}, reserved {Reserved}, committed {Committed}; " +
                $"the entry recorded {entry.OnHandAfter}, {entry.ReservedAfter}, {entry.CommittedAfter}.");
        }
    }

    /// <summary>
    /// Brings back what the line had forgotten about one operation or hold, from its stored entries (oldest first).
    /// The entries are history: they do not change balances.
    /// </summary>
    public void Remember(string id, IReadOnlyList<LedgerEntry> history)
    {
        if (!NeedsLookup(id) || history.Count == 0)
        {
            return;
        }

        var first = history[0];
        if (first.Kind == LedgerEntryKind.ApprovalRequested)
        {
            var approval = new Approval(first);
            foreach (var entry in history.Skip(1).Where(e => e.ApprovalId == id))
            {
                approval.Status = entry.Kind == LedgerEntryKind.ApprovalRejected ? ApprovalStatus.Rejected : ApprovalStatus.Approved;
            }

            if (approval.Status == ApprovalStatus.Pending)
            {
                throw new LedgerMismatchException($"{Key}: approval '{id}' is pending in the store but unknown in memory.");
            }

            _approvals[id] = approval;
            _operations[id] = first;
            Forgettable(id, first.Sequence);
            return;
        }

        if (first.ReservationId is null || first.Kind is not (LedgerEntryKind.Reserved or LedgerEntryKind.Refused))
        {
            Remember(first);
            return;
        }

        var status = first.Kind == LedgerEntryKind.Refused ? HoldStatus.Refused : HoldStatus.Pending;
        var sequence = first.Sequence;
        foreach (var entry in history.Skip(1))
        {
            status = entry.Kind switch
            {
                LedgerEntryKind.Committed => HoldStatus.Committed,
                LedgerEntryKind.Shipped => HoldStatus.Shipped,
                LedgerEntryKind.Released => HoldStatus.Released,
                LedgerEntryKind.Expired => HoldStatus.Expired,
                _ => status,
            };
            sequence = entry.Sequence;
        }

        if (status is HoldStatus.Pending or HoldStatus.Committed)
        {
            throw new LedgerMismatchException($"{Key}: hold '{id}' is open in the store but unknown in memory.");
        }

        _holds.Set(new Hold(id, first.Quantity, status, first.ExpiresAt ?? first.At, Shared(first.Fingerprint, first.Quantity), sequence)
        {
            RefusalReason = first.Kind == LedgerEntryKind.Refused ? SharedReason(first.Reason) : null,
        });
        Forgettable(id, sequence);
    }

    /// <summary>A copy of the state, for a snapshot. Only call it when the state is exactly what is durable.</summary>
    public StockLineSnapshot ToSnapshot() => new()
    {
        Sequence = Sequence,
        OnHand = OnHand,
        Reserved = Reserved,
        Committed = Committed,
        SafetyStock = SafetyStock,
        NegativeStock = Policy,
        PolicySource = PolicySource,
        AlertCause = AlertCause,
        HasForgotten = HasForgotten,
        Holds = _holds.All.OrderBy(h => h.Sequence).Select(h => new SnapshotHold
        {
            ReservationId = h.ReservationId,
            Quantity = h.Quantity,
            Status = h.Status,
            ExpiresAt = h.ExpiresAt,
            Fingerprint = h.Fingerprint,
            Sequence = h.Sequence,
            RefusalReason = h.RefusalReason,
            Owner = h.Owner,
        }).ToList(),
        Operations = _operations.Values.OrderBy(e => e.Sequence).ToList(),
        Approvals = _approvals.Values.OrderBy(a => a.Request.Sequence)
            .Select(a => new SnapshotApproval { Request = a.Request, Status = a.Status }).ToList(),
    };

    /// <summary>Rebuilds the rules from a snapshot; the ledger after <see cref="StockLineSnapshot.Sequence"/> is then replayed with <see cref="Apply"/>.</summary>
    public static StockLineRules FromSnapshot(
        StockKey key, StockLineSnapshot? snapshot, int rememberLimit = DefaultRememberLimit, long countApprovalThreshold = long.MaxValue,
        bool skipStockCheck = false)
    {
        var rules = new StockLineRules(key, rememberLimit, countApprovalThreshold) { SkipStockCheck = skipStockCheck };
        if (snapshot is null)
        {
            return rules;
        }

        if (snapshot.FormatVersion is < 1 or > StockLineSnapshot.CurrentFormatVersion)
        {
            throw new NotSupportedException($"Snapshot format {snapshot.FormatVersion} of {key} is not supported.");
        }

        rules.Sequence = snapshot.Sequence;
        rules.OnHand = snapshot.OnHand;
        rules.Reserved = snapshot.Reserved;
        rules.Committed = snapshot.Committed;
        rules.SafetyStock = snapshot.SafetyStock;
        rules.Policy = snapshot.NegativeStock;
        rules.PolicySource = snapshot.PolicySource;
        rules.AlertCause = snapshot.AlertCause;
        rules.HasForgotten = snapshot.HasForgotten;
        var forgettable = new List<(long Sequence, string Id)>();
        foreach (var h in snapshot.Holds)
        {
            var hold = new Hold(h.ReservationId, h.Quantity, h.Status, h.ExpiresAt, Shared(h.Fingerprint, h.Quantity), h.Sequence)
            {
                RefusalReason = SharedReason(h.RefusalReason),
                Owner = h.Owner is { } owner ? rules.OwnerOf(owner) : null,
            };
            rules._holds.Add(hold);
            if (hold.Status == HoldStatus.Pending)
            {
                rules.CountPending(hold, +1);
            }

            if (hold.Status is not (HoldStatus.Pending or HoldStatus.Committed))
            {
                forgettable.Add((hold.Sequence, hold.ReservationId));
            }
        }

        foreach (var entry in snapshot.Operations)
        {
            rules._operations.Add(entry.OperationId, entry);
            forgettable.Add((entry.Sequence, entry.OperationId));
        }

        foreach (var a in snapshot.Approvals)
        {
            rules._approvals.Add(a.Request.ApprovalId!, new Approval(a.Request) { Status = a.Status });
        }

        // What a snapshot holds was durable when it was taken.
        rules._durable = snapshot.Sequence;
        foreach (var (sequence, id) in forgettable.OrderBy(f => f.Sequence))
        {
            rules.Forgettable(id, sequence);
        }

        return rules;
    }

    public HoldView? FindHold(string reservationId) => _holds.TryGet(reservationId, out var hold) ? hold.ToView() : null;

    private Decision Transition(HoldCommand command, DateTimeOffset now, LedgerEntryKind kind)
    {
        if (!_holds.TryGet(command.ReservationId, out var hold) || hold.Status == HoldStatus.Refused)
        {
            return Refuse(StockLineOutcome.HoldNotFound, Sequence);
        }

        var (done, already) = kind switch
        {
            LedgerEntryKind.Committed => (StockLineOutcome.Committed, HoldStatus.Committed),
            LedgerEntryKind.Shipped => (StockLineOutcome.Shipped, HoldStatus.Shipped),
            LedgerEntryKind.Released => (StockLineOutcome.Released, HoldStatus.Released),
            LedgerEntryKind.Expired => (StockLineOutcome.Expired, HoldStatus.Expired),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        if (hold.Status == already)
        {
            var replay = kind switch
            {
                LedgerEntryKind.Committed => StockLineOutcome.AlreadyCommitted,
                LedgerEntryKind.Shipped => StockLineOutcome.AlreadyShipped,
                LedgerEntryKind.Released => StockLineOutcome.AlreadyReleased,
                _ => StockLineOutcome.AlreadyExpired,
            };
            return new Decision(new StockLineResult(replay, View, hold.ToView(), Replayed: true), null, hold.Sequence);
        }

        if (kind == LedgerEntryKind.Released && hold.Status == HoldStatus.Expired)
        {
            // Releasing an expired hold asks for what already happened: the units are free.
            return new Decision(new StockLineResult(StockLineOutcome.AlreadyExpired, View, hold.ToView(), Replayed: true), null, hold.Sequence);
        }

        if (!MayMove(hold.Status, kind))
        {
            return new Decision(new StockLineResult(StockLineOutcome.InvalidTransition, View, hold.ToView()), null, hold.Sequence);
        }

        var entry = TransitionEntry(hold, kind, command.Actor, now);
        Apply(entry);
        return new Decision(new StockLineResult(done, View, (hold with { Status = already, Sequence = entry.Sequence }).ToView()), entry, entry.Sequence);
    }

    /// <summary>The statuses a hold may leave by each transition: commit and expiry from pending, shipping once committed, release from either.</summary>
    private static bool MayMove(HoldStatus from, LedgerEntryKind kind) => kind switch
    {
        LedgerEntryKind.Committed or LedgerEntryKind.Expired => from == HoldStatus.Pending,
        LedgerEntryKind.Shipped => from == HoldStatus.Committed,
        LedgerEntryKind.Released => from is HoldStatus.Pending or HoldStatus.Committed,
        _ => false,
    };

    /// <summary>The finished entry of a hold's transition, made in one allocation as a reservation's is.</summary>
    private LedgerEntry TransitionEntry(Hold hold, LedgerEntryKind kind, string actor, DateTimeOffset now)
    {
        var suffix = kind switch
        {
            LedgerEntryKind.Committed => "commit",
            LedgerEntryKind.Shipped => "ship",
            LedgerEntryKind.Released => "release",
            _ => "expire",
        };
        var q = hold.Quantity;
        var wasCommitted = hold.Status == HoldStatus.Committed;
        var sequence = Sequence + 1;
        var onHandAfter = kind == LedgerEntryKind.Shipped ? OnHand - q : OnHand;
        var reservedAfter = kind == LedgerEntryKind.Committed ? Reserved : Reserved - q;
        var committedAfter = kind switch
        {
            LedgerEntryKind.Committed => Committed + q,
            LedgerEntryKind.Shipped => Committed - q,
            LedgerEntryKind.Released when wasCommitted => Committed - q,
            _ => Committed,
        };
        return new LedgerEntry(sequence, kind, q, null, hold.ReservationId, $"{hold.ReservationId}:{suffix}", actor, null, now,
            onHandAfter, reservedAfter, committedAfter, SafetyStock, Policy, null, suffix)
        {
            AlertCauseAfter = AlertAfter(onHandAfter, reservedAfter, Policy, kind, sequence),
        };
    }

    private LedgerEntry Next(LedgerEntryKind kind, long quantity, string operationId, string actor, DateTimeOffset now, string fingerprint) =>
        new(Sequence + 1, kind, quantity, null, null, operationId, actor, null, now,
            OnHand, Reserved, Committed, SafetyStock, Policy, null, fingerprint);

    /// <summary>Completes a new entry with the alert state it leaves behind, computed by the same rule replay checks.</summary>
    private LedgerEntry Finish(LedgerEntry entry) =>
        entry with { AlertCauseAfter = AlertAfter(entry.OnHandAfter, entry.ReservedAfter, entry.PolicyAfter, entry.Kind, entry.Sequence) };

    /// <summary>
    /// The alert after a movement: an open alert stays until the line is no longer negative; a new one is raised only
    /// by physical truth (an adjustment or a count, approved or not), and names that movement as its cause.
    /// </summary>
    private long? AlertAfter(long onHand, long reserved, NegativeStockPolicy policy, LedgerEntryKind kind, long sequence)
    {
        if (!IsNegative(onHand, reserved, policy))
        {
            return null;
        }

        if (AlertCause is { } open)
        {
            return open;
        }

        return kind is LedgerEntryKind.Adjusted or LedgerEntryKind.Counted ? sequence : null;
    }

    /// <summary>
    /// The answer to an operation id seen before: its original outcome when the payload matches, a conflict when it
    /// does not, nothing when the id is new.
    /// </summary>
    private Decision? Earlier(string operationId, string fingerprint)
    {
        if (_holds.Contains(operationId))
        {
            return Refuse(StockLineOutcome.OperationIdReused, Sequence);
        }

        if (!_operations.TryGetValue(operationId, out var earlier))
        {
            return null;
        }

        if (earlier.Fingerprint != fingerprint)
        {
            return Refuse(StockLineOutcome.OperationIdReused, earlier.Sequence);
        }

        var outcome = earlier.Kind switch
        {
            LedgerEntryKind.Adjusted => StockLineOutcome.AlreadyAdjusted,
            LedgerEntryKind.Counted => StockLineOutcome.AlreadyCounted,
            LedgerEntryKind.ApprovalRequested => StockLineOutcome.AlreadyPendingApproval,
            LedgerEntryKind.Returned => StockLineOutcome.AlreadyReturned,
            LedgerEntryKind.TransferredOut or LedgerEntryKind.TransferredIn => StockLineOutcome.AlreadyTransferred,
            LedgerEntryKind.Received => StockLineOutcome.AlreadyReceived,
            LedgerEntryKind.PolicyChanged => StockLineOutcome.AlreadyPolicyChanged,
            _ => RefusalOutcome(earlier.Reason),
        };
        var replay = Replay(outcome, earlier);
        return earlier.ApprovalId is { } id && _approvals.TryGetValue(id, out var approval)
            ? replay with { Result = replay.Result with { Approval = ToView(approval) } }
            : replay;
    }

    private Decision Decided(LedgerEntry entry)
    {
        var outcome = entry.Kind switch
        {
            LedgerEntryKind.Adjusted => StockLineOutcome.Adjusted,
            LedgerEntryKind.Counted => StockLineOutcome.Counted,
            LedgerEntryKind.ApprovalRequested => StockLineOutcome.PendingApproval,
            LedgerEntryKind.Returned => StockLineOutcome.Returned,
            LedgerEntryKind.TransferredOut => StockLineOutcome.TransferredOut,
            LedgerEntryKind.TransferredIn => StockLineOutcome.TransferredIn,
            _ => RefusalOutcome(entry.Reason),
        };
        var approval = entry.ApprovalId is { } id && _approvals.TryGetValue(id, out var a) ? ToView(a) : null;
        return new Decision(new StockLineResult(outcome, View, null) { Approval = approval, Entry = entry }, entry, entry.Sequence);
    }

    private static StockLineOutcome RefusalOutcome(string? reason) => reason switch
    {
        "units_reserved" => StockLineOutcome.UnitsReserved,
        "insufficient_on_hand" => StockLineOutcome.InsufficientOnHand,
        BlockedByAlertReason => StockLineOutcome.BlockedByAlert,
        HoldLimitReason => StockLineOutcome.HoldLimitReached,
        _ => StockLineOutcome.InsufficientStock,
    };

    private void Resolve(LedgerEntry entry, ApprovalStatus status)
    {
        if (entry.ApprovalId is null)
        {
            return;
        }

        if (!_approvals.TryGetValue(entry.ApprovalId, out var approval) || approval.Status != ApprovalStatus.Pending)
        {
            throw new LedgerMismatchException($"{Key}: entry {entry.Sequence} resolves approval '{entry.ApprovalId}', which is not pending.");
        }

        approval.Status = status;
        Forgettable(entry.ApprovalId, entry.Sequence);
    }

    private ApprovalView ToView(Approval approval)
    {
        var r = approval.Request;
        return new ApprovalView(r.ApprovalId!, Key.Warehouse, Key.Sku, r.Reason == "count" ? LedgerEntryKind.Counted : LedgerEntryKind.Adjusted,
            r.Quantity, r.Reason, r.Actor, r.At, r.Sequence, r.Note, r.CountedQuantity);
    }

    public static string AdjustmentReasonText(AdjustmentReason reason) => reason switch
    {
        AdjustmentReason.Damaged => "damaged",
        AdjustmentReason.Shrinkage => "shrinkage",
        AdjustmentReason.Found => "found",
        AdjustmentReason.Correction => "correction",
        AdjustmentReason.Returned => "returned",
        AdjustmentReason.Other => "other",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };

    private Decision Replay(StockLineOutcome outcome, LedgerEntry earlier)
    {
        var then = new StockLineView(Key.Warehouse, Key.Sku, earlier.OnHandAfter, earlier.ReservedAfter, earlier.CommittedAfter,
            earlier.SafetyStockAfter, earlier.OnHandAfter - earlier.ReservedAfter - earlier.SafetyStockAfter, earlier.Sequence, earlier.PolicyAfter);
        return new Decision(new StockLineResult(outcome, then, null, Replayed: true) { Entry = earlier }, null, earlier.Sequence);
    }

    private Decision Refuse(StockLineOutcome outcome, long durableAt, Hold? hold = null) =>
        new(new StockLineResult(outcome, View, hold?.ToView()), null, durableAt);

    private void Remember(LedgerEntry entry)
    {
        _operations[entry.OperationId] = entry;
        Forgettable(entry.OperationId, entry.Sequence);
    }

    private void Close(Hold hold, HoldStatus status, long sequence)
    {
        if (hold.Status == HoldStatus.Pending)
        {
            CountPending(hold, -1);
        }

        // Moved before it is offered for forgetting, which may drop it from the table.
        _holds.Move(hold.ReservationId, status, sequence);
        Forgettable(hold.ReservationId, sequence);
    }

    private void CountPending(Hold hold, int change)
    {
        // Holds restored from a version-2 snapshot have no owner; they count against no one.
        if (hold.Owner is not { } owner)
        {
            return;
        }

        var (shared, count) = _pendingByOwner.GetValueOrDefault(owner, (owner, 0));
        count += change;
        if (count <= 0)
        {
            _pendingByOwner.Remove(owner);
        }
        else
        {
            _pendingByOwner[owner] = (shared, count);
        }
    }

    /// <summary>
    /// Tells the rules that the ledger holds every entry up to <paramref name="sequence"/>. Only those may be forgotten:
    /// a forgotten id is looked up in the ledger, and an entry still on its way there would not be found, so a retried
    /// shipment of a hold forgotten too early would ship it twice.
    /// </summary>
    public void Durable(long sequence)
    {
        if (sequence > _durable)
        {
            _durable = sequence;
            Forget();
        }
    }

    /// <summary><paramref name="id"/> was finished by entry <paramref name="sequence"/>: it may be forgotten once that is durable and enough newer ones wait.</summary>
    private void Forgettable(string id, long sequence)
    {
        _forgettable.Enqueue((sequence, id));
        Forget();
    }

    private void Forget()
    {
        while (_forgettable.Count > _rememberLimit && _forgettable.Peek().Sequence <= _durable)
        {
            var (_, old) = _forgettable.Dequeue();
            if (_holds.TryGet(old, out var hold) && hold.Status is not (HoldStatus.Pending or HoldStatus.Committed))
            {
                _holds.Remove(old);
            }

            if (_approvals.TryGetValue(old, out var approval))
            {
                if (approval.Status == ApprovalStatus.Pending)
                {
                    // A request still waiting for its second person is remembered whole, its operation too: a retry of
                    // it must be answered as pending, and a line that knows the approval never looks the id up. It
                    // becomes forgettable again once it is approved or rejected.
                    continue;
                }

                _approvals.Remove(old);
            }

            _operations.Remove(old);
            HasForgotten = true;
        }
    }

    private static void Require(Hold hold, LedgerEntry entry, params HoldStatus[] from)
    {
        if (!from.Contains(hold.Status))
        {
            throw new LedgerMismatchException($"entry {entry.Sequence} ({entry.Kind}) on hold '{hold.ReservationId}' in status {hold.Status}.");
        }
    }
}

public enum ApprovalStatus
{
    Pending = 0,
    Approved = 1,
    Rejected = 2,
}

/// <summary>A request waiting for a second person, kept as the entry that asked for it.</summary>
public sealed class Approval(LedgerEntry request)
{
    public LedgerEntry Request { get; } = request;

    public ApprovalStatus Status { get; set; } = ApprovalStatus.Pending;
}

/// <summary>A ledger that does not replay to the balances it recorded: the line must not serve.</summary>
public sealed class LedgerMismatchException(string message) : Exception(message);
