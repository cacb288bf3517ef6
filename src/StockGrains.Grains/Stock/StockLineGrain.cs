using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using StockGrains.Grains.Storage;
using StockGrains.Grains.TradePolicies;
using StockGrains.Security;
using StockGrains.Stock;

namespace StockGrains.Grains.Stock;

/// <summary>
/// The thin shell around <see cref="StockLineRules"/>: identity, persistence, expiry timers, telemetry.
/// <para>
/// The grain is reentrant so that callers can queue while an append is in flight, but every decision is made in one
/// synchronous step of the rules with no await between check and apply. Decided entries wait in a queue; one append at
/// a time carries everything queued (group commit), and each caller is answered only once the append holding its
/// entry is durable. A failed append fails every caller not yet answered and deactivates the grain, because its memory
/// is then ahead of the ledger.
/// </para>
/// </summary>
[Reentrant]
public sealed partial class StockLineGrain(
    ILedgerStore store,
    [PersistentState("line", StorageNames.Snapshots)] IPersistentState<StockLineSnapshot> snapshot,
    StockGrainsTime time,
    AvailabilityPublisher availability,
    IOptions<StockLineOptions> options,
    ILogger<StockLineGrain> logger) : Grain, IStockLineGrain, IRemindable
{

    private static readonly TimeSpan UnsafeAppendDelay = TimeSpan.FromMilliseconds(300);

    private readonly StockLineOptions _options = options.Value;
    /// <summary>Entries decided but not yet handed to the store: only while <see cref="StockLineOptions.MaxAppendsInFlight"/> appends are out.</summary>
    private readonly List<Pending> _queue = [];

    /// <summary>Entries handed to the store and not yet durable, in sequence order.</summary>
    private readonly List<Pending> _inFlight = [];

    /// <summary>The appends handed to the store and not yet confirmed, oldest first; together they hold <see cref="_inFlight"/>.</summary>
    private readonly Queue<SentAppend> _sent = new();
    private StockLineRules _rules = null!;
    private string _line = "";
    private long _durable;
    private long _snapshotAt;
    private bool _appending;
    private bool _sendingLater;

    /// <summary>The newest append handed to the store, which takes more entries until the store's writer takes it.</summary>
    private SentAppend? _open;

    /// <summary>The operation id of the last entry handed to the store: the fence of an append behind one still in flight.</summary>
    private string? _lastSentOperationId;
    private bool _snapshotting;
    private Exception? _broken;
    private IGrainTimer? _expiryTimer;
    private DateTimeOffset? _timerDue;
    private DateTimeOffset? _storedExpiry;
    private bool _storedExpiryKnown;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _line = this.GetPrimaryKeyString();
        if (!StockKey.TryParse(_line, out var key) || key.ToString() != _line)
        {
            throw new ArgumentException($"'{_line}' is not a canonical 'warehouse/sku' key.");
        }

        var stored = snapshot.RecordExists ? snapshot.State : null;
        _rules = StockLineRules.FromSnapshot(key, stored, _options.RememberLimit, _options.CountApprovalThreshold, _options.UnsafeSkipStockCheck);
        _snapshotAt = _rules.Sequence;

        // From a snapshot, the first page starts at the snapshot's own last entry, which must be in the ledger. A line
        // only ever appends at the position after one it has seen committed, and PostgreSQL's fence trusts that (its
        // primary key refuses a position already taken, not one past the end), so a snapshot ahead of its ledger (a
        // ledger restored without its latest entries, say) must stop the line here rather than let it write past a gap.
        var from = Math.Max(0, _snapshotAt - 1);
        while (true)
        {
            var page = await store.ReadAsync(_line, from, _options.ReplayPageSize, cancellationToken);
            var skip = 0;
            if (from < _snapshotAt)
            {
                if (page.Count == 0 || page[0].Sequence != _snapshotAt)
                {
                    throw new LedgerMismatchException(
                        $"{_line}: the snapshot is at sequence {_snapshotAt}, but the ledger has no entry there: the ledger is behind its snapshot.");
                }

                skip = 1;
            }

            for (var i = skip; i < page.Count; i++)
            {
                _rules.Apply(page[i]);
            }

            if (page.Count < _options.ReplayPageSize)
            {
                break;
            }

            from = _rules.Sequence;
        }

        _durable = _rules.Sequence;
        _rules.Durable(_durable);

        // The stored expiry is written with the entries, so it matches what was just replayed. A line with pending holds
        // sends it once more anyway: lines from before the expiry index have none stored.
        _storedExpiry = _rules.NextExpiry;
        _storedExpiryKnown = _storedExpiry is null;
        LogActivated(_line, _snapshotAt, _rules.Sequence);
        await InheritSkuPolicyAsync(key);
        await ExpireDueAndStoreAsync();

        // Everything decided so far is durable here (the expiry check above waited for it). A line with no entry has
        // nothing to tell the read model, which reads an unknown warehouse as zero anyway: published, every read of a
        // made-up SKU would leave a zero behind in a shard for good.
        if (_rules.Sequence > 0)
        {
            PublishAvailability(_rules.View);
        }
    }

    /// <summary>
    /// A brand-new line takes its SKU's negative-stock policy. Lines that already have entries are listed in the store
    /// and receive every later SKU-wide change from the SKU itself.
    /// </summary>
    private async Task InheritSkuPolicyAsync(StockKey key)
    {
        if (_rules.Sequence != 0)
        {
            return;
        }

        var sku = await GrainFactory.GetGrain<StockGrains.Skus.ISkuGrain>(key.Sku).GetAsync();
        if (sku?.NegativeStock is { } policy && policy != _rules.Policy)
        {
            var command = new SetPolicyCommand($"sku:{key.Sku}:v{sku.Version}", policy, 0, "system", PolicySource.Sku);
            await RunAsync(command.OperationId, now => _rules.SetPolicy(command, now));
        }
    }

    public Task<StockLineView> GetAsync() => ReadAsync(() => _rules.View);

    public Task<StockLineResult> ReceiveAsync(ReceiveCommand command) =>
        Operate().RunAsync(command.OperationId, now => _rules.Receive(command, now));

    public Task<StockLineResult> ReserveAsync(ReserveCommand command)
    {
        ThrowIfBroken();
        CatchUpExpiries();

        // The cap comes with the caller; a call from inside the cluster has none.
        var cap = CallerIdentity.Current?.MaxPendingHoldsPerLine;
        return RunAsync(command.ReservationId, (command, cap), static (rules, s, now) => rules.Reserve(s.command, now, s.cap));
    }

    /// <summary>
    /// A reservation is decided on what is available, and a hold past its time counts as held until it is expired. When
    /// more holds fell due than one turn expires (a line woken after a long sleep, a sale's holds running out together),
    /// a reservation expires them all first: refused instead, it would be refused for good, its id spent, for units
    /// that are free.
    /// </summary>
    private void CatchUpExpiries()
    {
        while (_rules.NextExpiry is { } due && due <= time.GetUtcNow())
        {
            ExpireDue();
        }
    }

    public Task<StockLineResult> CommitAsync(HoldCommand command) =>
        RunAsync(command.ReservationId, command, static (rules, command, now) => rules.Commit(command, now));

    public Task<StockLineResult> ShipAsync(HoldCommand command) =>
        RunAsync(command.ReservationId, command, static (rules, command, now) => rules.Ship(command, now));

    public Task<StockLineResult> ReleaseAsync(HoldCommand command) =>
        RunAsync(command.ReservationId, command, static (rules, command, now) => rules.Release(command, now));

    public Task<StockLineResult> ExpireAsync(HoldCommand command) =>
        RunAsync(command.ReservationId, command, static (rules, command, now) => rules.Expire(command, now));

    public Task<StockLineResult> SetPolicyAsync(SetPolicyCommand command) =>
        Administer().RunAsync(command.OperationId, now => _rules.SetPolicy(command, now));

    public Task<StockLineResult> AdjustAsync(AdjustCommand command) =>
        Operate().RunAsync(command.OperationId, now => _rules.Adjust(command, now));

    public async Task<StockLineResult> CountAsync(CountCommand command)
    {
        Operate();
        // On hand at the count's starting point comes from the ledger: a count while selling keeps every movement since.
        long? onHandAtStart = null;
        if (command.CountStartedAtSequence is { } start and > 0 && start < _rules.Sequence)
        {
            await WaitDurableAsync(start);
            var page = await store.ReadAsync(_line, start - 1, 1);
            onHandAtStart = page.Count == 1 && page[0].Sequence == start ? page[0].OnHandAfter : null;
        }
        else if (command.CountStartedAtSequence == 0)
        {
            onHandAtStart = 0;
        }

        return await RunAsync(command.OperationId, now => _rules.Count(command, onHandAtStart, now));
    }

    public Task<StockLineResult> ResolveApprovalAsync(ResolveApprovalCommand command) =>
        Operate().RunAsync(command.ApprovalId, now => _rules.ResolveApproval(command, now));

    public Task<StockLineResult> ReturnAsync(ReturnCommand command) =>
        Operate().RunAsync(command.OperationId, now => _rules.Return(command, now));

    public Task<StockLineResult> TransferOutAsync(TransferCommand command) =>
        Operate().RunAsync(command.TransferId, now => _rules.TransferOut(command, now));

    public Task<StockLineResult> TransferInAsync(TransferCommand command) =>
        Operate().RunAsync(command.TransferId, now => _rules.TransferIn(command, now));

    public Task<IReadOnlyList<ApprovalView>> GetApprovalsAsync() => ReadAsync<IReadOnlyList<ApprovalView>>(() => _rules.PendingApprovals.ToList());

    public async Task<HoldView?> GetHoldAsync(string reservationId)
    {
        ThrowIfBroken();
        await LookupAsync(reservationId);
        return await ReadAsync(() => _rules.FindHold(reservationId));
    }

    public async Task<LedgerPage> GetLedgerAsync(long afterSequence, int limit)
    {
        await ReadAsync(() => _rules.Sequence);
        var entries = await store.ReadAsync(_line, afterSequence, Math.Clamp(limit, 1, 1_000));
        return new LedgerPage(entries);
    }

    public Task ExpireDueHoldsAsync()
    {
        // The sweeper calls this for a line the expiry index says is due, so the stored time has come, whatever this
        // activation believed: the slack can leave a stored time behind the line's real one (its last pending hold
        // committed, say), and a line loaded again cannot know that time. Taking it as due makes the line store its
        // real expiry, or none, so the index lets go of it instead of waking it every minute for good.
        (_storedExpiry, _storedExpiryKnown) = (time.GetUtcNow(), true);
        return ExpireDueAndStoreAsync();
    }

    /// <summary>Expires what is due and, when nothing is left to carry it, stores the line's real earliest expiry.</summary>
    private async Task ExpireDueAndStoreAsync()
    {
        await ReadAsync(() => _rules.Sequence);
        ScheduleExpiry();

        // Woken early (the stored expiry came before the real one, within the slack): nothing was due, so no entry
        // carried the real time to the store. Store it now, or the sweeper wakes the line again at every tick.
        if (_queue.Count == 0 && _sent.Count == 0 && _durable == _rules.Sequence && MustStoreExpiry(_rules.NextExpiry, time.GetUtcNow()))
        {
            await StoreExpiryAsync();
        }
    }

    /// <summary>Stores the line's earliest pending expiry with no entry: an append of nothing but the expiry, at the durable end.</summary>
    private async Task StoreExpiryAsync()
    {
        var next = _rules.NextExpiry;
        await store.AppendAsync(_line, _durable, [], new ExpiryUpdate(next));
        (_storedExpiry, _storedExpiryKnown) = (next, true);
    }

    /// <summary>
    /// How much later than the stored earliest expiry the line's real one may be before the store is told. The stored
    /// time only has to come no later than the real one: the sweeper wakes a line once its stored time has passed, and
    /// a line woken early finds nothing due and stores the real time then. A line whose oldest holds are committed one
    /// after another moves its earliest expiry in nearly every transaction; within this slack none of those moves is
    /// written, and the transaction carries no update of the expiry index.
    /// </summary>
    public static readonly TimeSpan StoredExpirySlack = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Whether the store must be told that the line's earliest pending expiry is now <paramref name="next"/>: always
    /// when it moves earlier (or appears), since the sweeper would wake the line too late; when it moves later, only
    /// once it is <see cref="StoredExpirySlack"/> ahead, or when the stored time has already come.
    /// </summary>
    private bool MustStoreExpiry(DateTimeOffset? next, DateTimeOffset now)
    {
        if (!_storedExpiryKnown)
        {
            return true;
        }

        if (_storedExpiry is not { } stored)
        {
            return next is not null;
        }

        return next is not { } due ? stored <= now : due < stored || stored <= now || due - stored >= StoredExpirySlack;
    }

    /// <summary>
    /// A read: expire what is due (the check on every call), wait until everything decided so far is durable, then
    /// read — so a reader never sees a change that could still be lost.
    /// </summary>
    private async Task<T> ReadAsync<T>(Func<T> read)
    {
        ThrowIfBroken();
        ExpireDue();
        await WaitDurableAsync(_rules.Sequence);
        return read();
    }

    /// <summary>The one-shot expiry timer fired: forget it so that the next schedule arms a new one, even for the same time.</summary>
    private Task OnExpiryTimerAsync()
    {
        _expiryTimer?.Dispose();
        _expiryTimer = null;
        _timerDue = null;
        return ExpireDueAndStoreAsync();
    }

    /// <summary>
    /// Lines from before the expiry index registered a reminder of their own. It still wakes them; once they have
    /// expired what is due and stored their next expiry, the reminder is removed and the sweeper takes over.
    /// </summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        await ExpireDueAndStoreAsync();
        if (_rules.NextExpiry is not null && !_storedExpiryKnown)
        {
            await StoreExpiryAsync();
        }

        if (await this.GetReminder(reminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _expiryTimer?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Re-checks at the grain what the HTTP tier checked: only an operator of this line's warehouse changes its stock.
    /// A call without an identity comes from inside the cluster and is trusted.
    /// </summary>
    private StockLineGrain Operate()
    {
        if (CallerIdentity.Current is { } caller && !caller.CanOperate(_rules.Key.Warehouse))
        {
            throw new AccessDeniedException($"'{caller.Client}' may not operate warehouse '{_rules.Key.Warehouse}'.");
        }

        return this;
    }

    /// <summary>Only an admin changes a line's policy.</summary>
    private StockLineGrain Administer()
    {
        if (CallerIdentity.Current is { } caller && !caller.Has(Roles.Admin))
        {
            throw new AccessDeniedException($"'{caller.Client}' may not change the policy of '{_line}'.");
        }

        return this;
    }

    private Task<StockLineResult> RunAsync(string id, Func<DateTimeOffset, Decision> decide) =>
        RunAsync(id, decide, static (_, decide, now) => decide(now));

    /// <summary>
    /// Decides a command and answers once its entry is durable. The decision takes its state as an argument, so that the
    /// commands of the hot path (a reservation and the moves of its hold) allocate no closure. In the common case,
    /// nothing to look up, the answer is the entry's own completion, handed to Orleans as it is: an <c>await</c> here
    /// would cost every reservation one more turn of the grain after its commit, with the task, the continuation and
    /// the state machine that go with it, only to pass the same answer on.
    /// </summary>
    private Task<StockLineResult> RunAsync<TState>(string id, TState state, Func<StockLineRules, TState, DateTimeOffset, Decision> decide)
    {
        ThrowIfBroken();
        return _rules.NeedsLookup(id) ? LookUpThenRunAsync(id, state, decide) : Decide(id, state, decide);
    }

    private async Task<StockLineResult> LookUpThenRunAsync<TState>(string id, TState state, Func<StockLineRules, TState, DateTimeOffset, Decision> decide)
    {
        await LookupAsync(id);
        return await Decide(id, state, decide);
    }

    private Task<StockLineResult> Decide<TState>(string id, TState state, Func<StockLineRules, TState, DateTimeOffset, Decision> decide)
    {
        var now = ExpireDue(id);
        var decision = decide(_rules, state, now);
        StockGrainsTelemetry.CountOutcome(decision.Result.Outcome);
        if (decision.Entry is { } early && _options.UnsafeAcknowledgeBeforeDurable)
        {
            // The deliberately broken build: the caller hears "done" while the entry is still only in memory.
            _ = Enqueue(early, null).ContinueWith(static t => t.Exception, TaskScheduler.Default);
            return Task.FromResult(decision.Result);
        }

        if (decision.Entry is { } entry)
        {
            var durable = Enqueue(entry, decision.Result);
            if (entry.Kind == LedgerEntryKind.Reserved)
            {
                // The hold's expiry is timed now rather than once it is durable: the timer fires minutes later, and a
                // line whose append fails reloads, timers and all.
                ScheduleExpiry();
            }

            return durable!;
        }

        var wait = WaitDurableAsync(decision.DurableAt);
        return wait.IsCompletedSuccessfully ? Task.FromResult(decision.Result) : AnswerWhenDurableAsync(wait, decision.Result);
    }

    private static async Task<StockLineResult> AnswerWhenDurableAsync(Task durable, StockLineResult result)
    {
        await durable;
        return result;
    }

    /// <summary>If the line has forgotten old operations, brings back what the ledger knows about <paramref name="id"/>.</summary>
    private async Task LookupAsync(string id)
    {
        if (!_rules.NeedsLookup(id))
        {
            return;
        }

        var history = await store.FindAsync(_line, id);
        ThrowIfBroken();
        _rules.Remember(id, history);
    }

    /// <summary>
    /// The check on every call: expires due holds before anything else is decided, at most
    /// <see cref="StockLineOptions.MaxExpiriesPerTurn"/> of them, and the hold <paramref name="id"/> names whenever it
    /// is due. When many holds fall due together, the cap can leave some pending past their time for a few turns, and
    /// the one a command is about must not be committed, shipped or released as if its time had not come. Returns the
    /// time used.
    /// </summary>
    private DateTimeOffset ExpireDue(string? id = null)
    {
        var now = time.GetUtcNow();
        var expired = _rules.ExpireDue(now, _options.MaxExpiriesPerTurn);
        foreach (var entry in expired)
        {
            _ = Enqueue(entry, null);
        }

        var count = expired.Count;
        if (id is not null && _rules.ExpireIfDue(id, now) is { } own)
        {
            _ = Enqueue(own, null);
            count++;
        }

        if (count > 0)
        {
            StockGrainsTelemetry.HoldsExpired.Add(count);
        }

        return now;
    }

    /// <summary>Queues an entry for the ledger; the task completes with <paramref name="answer"/> once the entry is durable.</summary>
    private Task<StockLineResult?> Enqueue(LedgerEntry entry, StockLineResult? answer)
    {
        var pending = new Pending(entry, _rules.NextExpiry, answer);
        _queue.Add(pending);
        Flush();
        return pending.Task;
    }

    /// <summary>Hands queued entries to the store now, or, in the deliberately broken build, a while later.</summary>
    private void Flush()
    {
        if (!_options.UnsafeAcknowledgeBeforeDurable)
        {
            SendQueued();
        }
        else if (!_sendingLater && _queue.Count > 0)
        {
            _ = SendLaterAsync();
        }
    }

    /// <summary>The deliberately broken build widens the window between the early answer and durability, so a crash reliably loses answered entries.</summary>
    private async Task SendLaterAsync()
    {
        _sendingLater = true;
        await Task.Delay(UnsafeAppendDelay);
        _sendingLater = false;
        SendQueued();
    }

    private Task WaitDurableAsync(long sequence)
    {
        if (sequence <= _durable)
        {
            return Task.CompletedTask;
        }

        var waitOn = _inFlight.Concat(_queue).FirstOrDefault(p => p.Entry.Sequence >= sequence);
        return waitOn?.Task ?? Task.CompletedTask;
    }

    /// <summary>
    /// Hands queued entries to the store in order. Each joins the append the store's writer has not taken yet, so the
    /// entries a hot line decides while a transaction commits all go into the next one, which is already waiting when
    /// the writer comes back. Once the writer has taken that append, the entry starts another, up to
    /// <see cref="StockLineOptions.MaxAppendsInFlight"/> of them; beyond that it waits here for the first to be
    /// confirmed. The store keeps them in order and fences each on the sequence the one before it ends at, and behind an
    /// append still in flight also on that append's last entry: if it lost to another writer, this one must not land on
    /// top of that writer's entry at the same position. So if one fails, every later one fails too, and durability is
    /// confirmed strictly in sequence order.
    /// </summary>
    private void SendQueued()
    {
        var sent = 0;
        var now = time.GetUtcNow();
        for (; sent < _queue.Count && _broken is null; sent++)
        {
            var pending = _queue[sent];
            var expiry = MustStoreExpiry(pending.NextExpiry, now) ? new ExpiryUpdate(pending.NextExpiry) : (ExpiryUpdate?)null;
            if (_open is { } open && open.Count < _options.MaxEntriesPerAppend && open.Append.TryAdd(pending.Entry, expiry))
            {
                open.Count++;
            }
            else if (_sent.Count < _options.MaxAppendsInFlight)
            {
                var previous = _sent.Count > 0 ? _lastSentOperationId : null;
                _open = new SentAppend(store.BeginAppend(_line, pending.Entry.Sequence - 1, pending.Entry, expiry, previous), TimeProvider.System.GetTimestamp());
                _sent.Enqueue(_open);
            }
            else
            {
                _open = null;
                break;
            }

            if (expiry is { } stored)
            {
                (_storedExpiry, _storedExpiryKnown) = (stored.At, true);
            }

            _lastSentOperationId = pending.Entry.OperationId;
            _inFlight.Add(pending);
        }

        _queue.RemoveRange(0, sent);
        if (_sent.Count > 0 && !_appending)
        {
            _ = AppendLoopAsync();
        }
    }

    /// <summary>Waits for the appends handed to the store, in order, and answers each one's callers once it is durable.</summary>
    private async Task AppendLoopAsync()
    {
        _appending = true;
        try
        {
            while (_sent.Count > 0 && _broken is null)
            {
                var append = _sent.Peek();
                try
                {
                    await append.Append.Durable;
                }
                catch (Exception ex)
                {
                    Break(ex);
                    return;
                }

                _sent.Dequeue();
                if (_open == append)
                {
                    _open = null;
                }

                var count = append.Count;
                StockGrainsTelemetry.AppendBatchSize.Record(count);
                StockGrainsTelemetry.AppendDuration.Record(TimeProvider.System.GetElapsedTime(append.Started).TotalMilliseconds);
                var last = _inFlight[count - 1].Entry;
                _durable = last.Sequence;
                _rules.Durable(_durable);
                for (var i = 0; i < count; i++)
                {
                    _inFlight[i].TrySetResult(_inFlight[i].Answer);
                }

                _inFlight.RemoveRange(0, count);
                PublishAvailability(_rules.ViewAfter(last));

                // A snapshot's cost grows with the line's state (a hot line holds thousands of open holds), so it is
                // written at most once per that many entries: the cost per entry stays constant however big the line.
                if (_durable - _snapshotAt >= Math.Max(_options.SnapshotEvery, _rules.SnapshotSize) && !_snapshotting)
                {
                    _ = WriteSnapshotAsync();
                }

                // Entries that waited for a free append go now.
                Flush();
            }
        }
        finally
        {
            _appending = false;
        }
    }

    /// <summary>
    /// Hands the line's balances to the silo's publisher, which sends them to the availability read model with those of
    /// the silo's other changed lines (<see cref="AvailabilityPublisher"/>): a hot line that changes a thousand times a
    /// second sends about twenty views, and 10,000 lines that each change now and then share a few messages.
    /// </summary>
    /// <param name="durable">
    /// The line as its durable ledger has it. The live state can be ahead, with entries still in flight: published, a
    /// later append that failed would leave the read model showing balances that were never stored, at a sequence
    /// higher than the reloaded line's, which the read model would then ignore until the line got that far again.
    /// </param>
    private void PublishAvailability(StockLineView durable) => availability.Publish(_line, durable);

    /// <summary>
    /// Writes a snapshot of the state as it is now, once everything in it is durable. The copy is taken first, in one
    /// synchronous step, because later decisions keep changing the live state while the write is awaited.
    /// </summary>
    private async Task WriteSnapshotAsync()
    {
        _snapshotting = true;
        try
        {
            var copy = _rules.ToSnapshot();
            await WaitDurableAsync(copy.Sequence);
            if (_broken is not null)
            {
                return;
            }

            snapshot.State = copy;
            await snapshot.WriteStateAsync();
            _snapshotAt = copy.Sequence;
        }
        catch (Exception ex)
        {
            // A lost snapshot costs only replay time on the next activation; the ledger still holds every entry.
            LogSnapshotFailed(ex, _line);
        }
        finally
        {
            _snapshotting = false;
        }
    }

    private void Break(Exception ex)
    {
        _broken = ex;
        LogAppendFailed(ex, _line, _inFlight.Count + _queue.Count);
        var failure = new StockLineUnavailableException($"Stock line {_line} could not make its changes durable; retry with the same id.", ex);
        foreach (var pending in _inFlight.Concat(_queue))
        {
            pending.TrySetException(failure);
        }

        _inFlight.Clear();
        _queue.Clear();
        DeactivateOnIdle();
    }

    private void ThrowIfBroken()
    {
        if (_broken is not null)
        {
            throw new StockLineUnavailableException($"Stock line {_line} is reloading after a failed append; retry with the same id.", _broken);
        }
    }

    /// <summary>
    /// Keeps a timer set for the earliest pending expiry, exact while the line is active. A line that is not active is
    /// woken by the expiry sweeper, which finds it through the expiry stored with its entries: no reminder per line,
    /// so the first hold on a line costs no write of its own.
    /// </summary>
    private void ScheduleExpiry()
    {
        var next = _rules.NextExpiry;
        if (next == _timerDue)
        {
            return;
        }

        _expiryTimer?.Dispose();
        _expiryTimer = null;
        _timerDue = next;
        if (next is { } due)
        {
            var wait = due - time.GetUtcNow();
            _expiryTimer = this.RegisterGrainTimer(
                static (grain, _) => grain.OnExpiryTimerAsync(),
                this,
                new GrainTimerCreationOptions(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, Timeout.InfiniteTimeSpan) { Interleave = true });
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stock line {Line} activated from snapshot {SnapshotSequence}, replayed to {Sequence}.")]
    private partial void LogActivated(string line, long snapshotSequence, long sequence);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stock line {Line} failed to append; {Unanswered} callers are told to retry and the line reloads.")]
    private partial void LogAppendFailed(Exception exception, string line, int unanswered);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stock line {Line} could not write its snapshot.")]
    private partial void LogSnapshotFailed(Exception exception, string line);

    /// <summary>An append handed to the store: how many entries this line put in it, and when it was started.</summary>
    private sealed class SentAppend(ILedgerAppend append, long started)
    {
        public ILedgerAppend Append { get; } = append;

        public long Started { get; } = started;

        public int Count { get; set; } = 1;
    }

    /// <summary>An entry waiting to be durable, with the line's earliest pending expiry right after it and the answer its caller waits for.</summary>
    /// <remarks>It is its own completion, so that a reservation waits for its commit in one object, not two.</remarks>
    private sealed class Pending(LedgerEntry entry, DateTimeOffset? nextExpiry, StockLineResult? answer)
        : TaskCompletionSource<StockLineResult?>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public LedgerEntry Entry { get; } = entry;

        public DateTimeOffset? NextExpiry { get; } = nextExpiry;

        /// <summary>What the caller hears once the entry is durable; null for an entry no caller waits for (an expiry).</summary>
        public StockLineResult? Answer { get; } = answer;
    }
}
