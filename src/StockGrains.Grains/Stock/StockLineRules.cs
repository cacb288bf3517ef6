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

    private readonly Dictionary<string, Hold> _holds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LedgerEntry> _operations = new(StringComparer.Ordinal);
    private readonly Queue<string> _forgettable = new();
    private readonly PriorityQueue<string, DateTimeOffset> _expiries = new();
    private readonly int _rememberLimit;

    public StockLineRules(StockKey key, int rememberLimit = DefaultRememberLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rememberLimit, 1);
        Key = key;
        _rememberLimit = rememberLimit;
    }

    public StockKey Key { get; }

    public long OnHand { get; private set; }

    public long Reserved { get; private set; }

    public long Committed { get; private set; }

    public long SafetyStock { get; private set; }

    public NegativeStockPolicy Policy { get; private set; }

    public long Sequence { get; private set; }

    public long Available => OnHand - Reserved - SafetyStock;

    /// <summary>True once the line has forgotten an operation: an unknown id must then be looked up in the store.</summary>
    public bool HasForgotten { get; private set; }

    public int OpenHoldCount { get; private set; }

    public StockLineView View => new(Key.Warehouse, Key.Sku, OnHand, Reserved, Committed, SafetyStock, Available, Sequence, Policy);

    public IEnumerable<Hold> Holds => _holds.Values;

    /// <summary>The earliest expiry among pending holds, if any.</summary>
    public DateTimeOffset? NextExpiry
    {
        get
        {
            while (_expiries.TryPeek(out var id, out var at))
            {
                if (_holds.TryGetValue(id, out var hold) && hold.Status == HoldStatus.Pending)
                {
                    return at;
                }

                _expiries.Dequeue();
            }

            return null;
        }
    }

    /// <summary>
    /// True when <paramref name="id"/> (an operation or reservation id) is unknown here but might be known to the
    /// store, because this line has forgotten old operations. The caller looks it up and calls <see cref="Remember"/>.
    /// </summary>
    public bool NeedsLookup(string id) => HasForgotten && !_holds.ContainsKey(id) && !_operations.ContainsKey(id);

    public Decision Receive(ReceiveCommand command, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(command.Quantity, 1);
        var fingerprint = $"receive|{command.Quantity}|{command.Reference}";
        if (_operations.TryGetValue(command.OperationId, out var earlier))
        {
            return earlier.Fingerprint == fingerprint
                ? Replay(StockLineOutcome.AlreadyReceived, earlier)
                : Refuse(StockLineOutcome.OperationIdReused, earlier.Sequence);
        }

        if (_holds.ContainsKey(command.OperationId))
        {
            return Refuse(StockLineOutcome.OperationIdReused, Sequence);
        }

        var entry = Next(LedgerEntryKind.Received, command.Quantity, command.OperationId, command.Actor, now, fingerprint) with
        {
            Reference = command.Reference,
            OnHandAfter = OnHand + command.Quantity,
        };
        Apply(entry);
        return new Decision(new StockLineResult(StockLineOutcome.Received, View, null), entry, entry.Sequence);
    }

    public Decision Reserve(ReserveCommand command, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(command.Quantity, 1);
        var fingerprint = $"reserve|{command.Quantity}";
        if (_holds.TryGetValue(command.ReservationId, out var hold))
        {
            if (hold.Fingerprint != fingerprint)
            {
                return Refuse(StockLineOutcome.ReservedWithDifferentQuantity, hold.Sequence, hold);
            }

            var outcome = hold.Status == HoldStatus.Refused ? StockLineOutcome.InsufficientStock : StockLineOutcome.AlreadyReserved;
            return new Decision(new StockLineResult(outcome, View, hold.ToView(), Replayed: true), null, hold.Sequence);
        }

        if (_operations.ContainsKey(command.ReservationId))
        {
            return Refuse(StockLineOutcome.OperationIdReused, Sequence);
        }

        var fits = Policy == NegativeStockPolicy.Allow || Available >= command.Quantity;
        var entry = fits
            ? Next(LedgerEntryKind.Reserved, command.Quantity, command.ReservationId, command.Actor, now, fingerprint) with
            {
                ReservationId = command.ReservationId,
                ExpiresAt = command.ExpiresAt,
                Reference = command.Reference,
                ReservedAfter = Reserved + command.Quantity,
            }
            : Next(LedgerEntryKind.Refused, command.Quantity, command.ReservationId, command.Actor, now, fingerprint) with
            {
                ReservationId = command.ReservationId,
                ExpiresAt = command.ExpiresAt,
                Reference = command.Reference,
                Reason = "insufficient_stock",
            };
        Apply(entry);
        var result = new StockLineResult(
            fits ? StockLineOutcome.Reserved : StockLineOutcome.InsufficientStock, View, _holds[command.ReservationId].ToView());
        return new Decision(result, entry, entry.Sequence);
    }

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
        var fingerprint = $"policy|{command.NegativeStock}|{command.SafetyStock}";
        if (_operations.TryGetValue(command.OperationId, out var earlier))
        {
            return earlier.Fingerprint == fingerprint
                ? Replay(StockLineOutcome.AlreadyPolicyChanged, earlier)
                : Refuse(StockLineOutcome.OperationIdReused, earlier.Sequence);
        }

        if (_holds.ContainsKey(command.OperationId))
        {
            return Refuse(StockLineOutcome.OperationIdReused, Sequence);
        }

        var entry = Next(LedgerEntryKind.PolicyChanged, 0, command.OperationId, command.Actor, now, fingerprint) with
        {
            SafetyStockAfter = command.SafetyStock,
            PolicyAfter = command.NegativeStock,
        };
        Apply(entry);
        return new Decision(new StockLineResult(StockLineOutcome.PolicyChanged, View, null), entry, entry.Sequence);
    }

    /// <summary>Expires every pending hold whose stored expiry time has come, oldest first.</summary>
    public IReadOnlyList<LedgerEntry> ExpireDue(DateTimeOffset now, int max = int.MaxValue)
    {
        List<LedgerEntry>? entries = null;
        while ((entries?.Count ?? 0) < max && NextExpiry is { } due && due <= now)
        {
            var id = _expiries.Dequeue();
            var entry = TransitionEntry(_holds[id], LedgerEntryKind.Expired, "system", now);
            Apply(entry);
            (entries ??= []).Add(entry);
        }

        return entries ?? (IReadOnlyList<LedgerEntry>)[];
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

        Hold? hold = null;
        if (entry.ReservationId is { } reservationId && entry.Kind is not (LedgerEntryKind.Reserved or LedgerEntryKind.Refused))
        {
            if (!_holds.TryGetValue(reservationId, out hold))
            {
                throw new LedgerMismatchException($"{Key}: entry {entry.Sequence} names unknown hold '{reservationId}'.");
            }
        }

        long onHand = OnHand, reserved = Reserved, committed = Committed;
        switch (entry.Kind)
        {
            case LedgerEntryKind.Received:
                onHand += entry.Quantity;
                Remember(entry);
                break;
            case LedgerEntryKind.PolicyChanged:
                Remember(entry);
                break;
            case LedgerEntryKind.Reserved:
                reserved += entry.Quantity;
                hold = new Hold(entry.ReservationId!, entry.Quantity, HoldStatus.Pending, entry.ExpiresAt!.Value, entry.Fingerprint, entry.Sequence);
                _holds.Add(hold.ReservationId, hold);
                _expiries.Enqueue(hold.ReservationId, hold.ExpiresAt);
                OpenHoldCount++;
                break;
            case LedgerEntryKind.Refused:
                hold = new Hold(entry.ReservationId!, entry.Quantity, HoldStatus.Refused, entry.ExpiresAt ?? entry.At, entry.Fingerprint, entry.Sequence);
                _holds.Add(hold.ReservationId, hold);
                Forgettable(hold.ReservationId);
                break;
            case LedgerEntryKind.Committed:
                Require(hold!, entry, HoldStatus.Pending);
                committed += hold!.Quantity;
                hold.Status = HoldStatus.Committed;
                break;
            case LedgerEntryKind.Shipped:
                Require(hold!, entry, HoldStatus.Committed);
                onHand -= hold!.Quantity;
                reserved -= hold.Quantity;
                committed -= hold.Quantity;
                Close(hold, HoldStatus.Shipped);
                break;
            case LedgerEntryKind.Released:
                Require(hold!, entry, HoldStatus.Pending, HoldStatus.Committed);
                reserved -= hold!.Quantity;
                committed -= hold.Status == HoldStatus.Committed ? hold.Quantity : 0;
                Close(hold, HoldStatus.Released);
                break;
            case LedgerEntryKind.Expired:
                Require(hold!, entry, HoldStatus.Pending);
                reserved -= hold!.Quantity;
                Close(hold, HoldStatus.Expired);
                break;
            default:
                throw new LedgerMismatchException($"{Key}: unknown entry kind {entry.Kind}.");
        }

        if (hold is not null)
        {
            hold.Sequence = entry.Sequence;
        }

        OnHand = onHand;
        Reserved = reserved;
        Committed = committed;
        SafetyStock = entry.SafetyStockAfter;
        Policy = entry.PolicyAfter;
        Sequence = entry.Sequence;
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
        if (first.Kind is LedgerEntryKind.Received or LedgerEntryKind.PolicyChanged)
        {
            Remember(first);
            return;
        }

        var hold = new Hold(id, first.Quantity, first.Kind == LedgerEntryKind.Refused ? HoldStatus.Refused : HoldStatus.Pending,
            first.ExpiresAt ?? first.At, first.Fingerprint, first.Sequence);
        foreach (var entry in history.Skip(1))
        {
            hold.Status = entry.Kind switch
            {
                LedgerEntryKind.Committed => HoldStatus.Committed,
                LedgerEntryKind.Shipped => HoldStatus.Shipped,
                LedgerEntryKind.Released => HoldStatus.Released,
                LedgerEntryKind.Expired => HoldStatus.Expired,
                _ => hold.Status,
            };
            hold.Sequence = entry.Sequence;
        }

        if (hold.Status is HoldStatus.Pending or HoldStatus.Committed)
        {
            throw new LedgerMismatchException($"{Key}: hold '{id}' is open in the store but unknown in memory.");
        }

        _holds[id] = hold;
        Forgettable(id);
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
        HasForgotten = HasForgotten,
        Holds = _holds.Values.OrderBy(h => h.Sequence).Select(h => new SnapshotHold
        {
            ReservationId = h.ReservationId,
            Quantity = h.Quantity,
            Status = h.Status,
            ExpiresAt = h.ExpiresAt,
            Fingerprint = h.Fingerprint,
            Sequence = h.Sequence,
        }).ToList(),
        Operations = _operations.Values.OrderBy(e => e.Sequence).ToList(),
    };

    /// <summary>Rebuilds the rules from a snapshot; the ledger after <see cref="StockLineSnapshot.Sequence"/> is then replayed with <see cref="Apply"/>.</summary>
    public static StockLineRules FromSnapshot(StockKey key, StockLineSnapshot? snapshot, int rememberLimit = DefaultRememberLimit)
    {
        var rules = new StockLineRules(key, rememberLimit);
        if (snapshot is null)
        {
            return rules;
        }

        if (snapshot.FormatVersion != StockLineSnapshot.CurrentFormatVersion)
        {
            throw new NotSupportedException($"Snapshot format {snapshot.FormatVersion} of {key} is not supported.");
        }

        rules.Sequence = snapshot.Sequence;
        rules.OnHand = snapshot.OnHand;
        rules.Reserved = snapshot.Reserved;
        rules.Committed = snapshot.Committed;
        rules.SafetyStock = snapshot.SafetyStock;
        rules.Policy = snapshot.NegativeStock;
        rules.HasForgotten = snapshot.HasForgotten;
        var forgettable = new List<(long Sequence, string Id)>();
        foreach (var h in snapshot.Holds)
        {
            var hold = new Hold(h.ReservationId, h.Quantity, h.Status, h.ExpiresAt, h.Fingerprint, h.Sequence);
            rules._holds.Add(hold.ReservationId, hold);
            if (hold.Status == HoldStatus.Pending)
            {
                rules._expiries.Enqueue(hold.ReservationId, hold.ExpiresAt);
            }

            if (hold.Status is HoldStatus.Pending or HoldStatus.Committed)
            {
                rules.OpenHoldCount++;
            }
            else
            {
                forgettable.Add((hold.Sequence, hold.ReservationId));
            }
        }

        foreach (var entry in snapshot.Operations)
        {
            rules._operations.Add(entry.OperationId, entry);
            forgettable.Add((entry.Sequence, entry.OperationId));
        }

        foreach (var (_, id) in forgettable.OrderBy(f => f.Sequence))
        {
            rules.Forgettable(id);
        }

        return rules;
    }

    public HoldView? FindHold(string reservationId) => _holds.TryGetValue(reservationId, out var hold) ? hold.ToView() : null;

    private Decision Transition(HoldCommand command, DateTimeOffset now, LedgerEntryKind kind)
    {
        if (!_holds.TryGetValue(command.ReservationId, out var hold) || hold.Status == HoldStatus.Refused)
        {
            return Refuse(StockLineOutcome.HoldNotFound, Sequence);
        }

        var (done, already, allowedFrom) = kind switch
        {
            LedgerEntryKind.Committed => (StockLineOutcome.Committed, HoldStatus.Committed, new[] { HoldStatus.Pending }),
            LedgerEntryKind.Shipped => (StockLineOutcome.Shipped, HoldStatus.Shipped, new[] { HoldStatus.Committed }),
            LedgerEntryKind.Released => (StockLineOutcome.Released, HoldStatus.Released, new[] { HoldStatus.Pending, HoldStatus.Committed }),
            LedgerEntryKind.Expired => (StockLineOutcome.Expired, HoldStatus.Expired, new[] { HoldStatus.Pending }),
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

        if (!allowedFrom.Contains(hold.Status))
        {
            return new Decision(new StockLineResult(StockLineOutcome.InvalidTransition, View, hold.ToView()), null, hold.Sequence);
        }

        var entry = TransitionEntry(hold, kind, command.Actor, now);
        Apply(entry);
        return new Decision(new StockLineResult(done, View, hold.ToView()), entry, entry.Sequence);
    }

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
        return Next(kind, q, $"{hold.ReservationId}:{suffix}", actor, now, suffix) with
        {
            ReservationId = hold.ReservationId,
            OnHandAfter = kind == LedgerEntryKind.Shipped ? OnHand - q : OnHand,
            ReservedAfter = kind == LedgerEntryKind.Committed ? Reserved : Reserved - q,
            CommittedAfter = kind switch
            {
                LedgerEntryKind.Committed => Committed + q,
                LedgerEntryKind.Shipped => Committed - q,
                LedgerEntryKind.Released when wasCommitted => Committed - q,
                _ => Committed,
            },
        };
    }

    private LedgerEntry Next(LedgerEntryKind kind, long quantity, string operationId, string actor, DateTimeOffset now, string fingerprint) =>
        new(Sequence + 1, kind, quantity, null, null, operationId, actor, null, now,
            OnHand, Reserved, Committed, SafetyStock, Policy, null, fingerprint);

    private Decision Replay(StockLineOutcome outcome, LedgerEntry earlier)
    {
        var then = new StockLineView(Key.Warehouse, Key.Sku, earlier.OnHandAfter, earlier.ReservedAfter, earlier.CommittedAfter,
            earlier.SafetyStockAfter, earlier.OnHandAfter - earlier.ReservedAfter - earlier.SafetyStockAfter, earlier.Sequence, earlier.PolicyAfter);
        return new Decision(new StockLineResult(outcome, then, null, Replayed: true), null, earlier.Sequence);
    }

    private Decision Refuse(StockLineOutcome outcome, long durableAt, Hold? hold = null) =>
        new(new StockLineResult(outcome, View, hold?.ToView()), null, durableAt);

    private void Remember(LedgerEntry entry)
    {
        _operations[entry.OperationId] = entry;
        Forgettable(entry.OperationId);
    }

    private void Close(Hold hold, HoldStatus status)
    {
        hold.Status = status;
        OpenHoldCount--;
        Forgettable(hold.ReservationId);
    }

    private void Forgettable(string id)
    {
        _forgettable.Enqueue(id);
        while (_forgettable.Count > _rememberLimit)
        {
            var old = _forgettable.Dequeue();
            if (_holds.TryGetValue(old, out var hold) && hold.Status is not (HoldStatus.Pending or HoldStatus.Committed))
            {
                _holds.Remove(old);
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

/// <summary>One hold as the rules keep it.</summary>
public sealed class Hold(string reservationId, long quantity, HoldStatus status, DateTimeOffset expiresAt, string fingerprint, long sequence)
{
    public string ReservationId { get; } = reservationId;

    public long Quantity { get; } = quantity;

    public HoldStatus Status { get; set; } = status;

    public DateTimeOffset ExpiresAt { get; } = expiresAt;

    public string Fingerprint { get; } = fingerprint;

    /// <summary>The sequence of the last entry that changed this hold.</summary>
    public long Sequence { get; set; } = sequence;

    public HoldView ToView() => new(ReservationId, Quantity, Status, ExpiresAt);
}

/// <summary>A ledger that does not replay to the balances it recorded: the line must not serve.</summary>
public sealed class LedgerMismatchException(string message) : Exception(message);
