using StockGrains.Stock;

namespace StockGrains.Grains.Stock;

/// <summary>
/// One hold as the rules see it: a value, read from the line's <see cref="HoldTable"/> and written back to it.
/// <see cref="Sequence"/> is the sequence of the last entry that changed the hold.
/// </summary>
public readonly record struct Hold(string ReservationId, long Quantity, HoldStatus Status, DateTimeOffset ExpiresAt, string Fingerprint, long Sequence)
{
    /// <summary>Why a refused reservation was refused (<c>insufficient_stock</c>, <c>negative_stock_alert</c>, <c>hold_limit</c>).</summary>
    public string? RefusalReason { get; init; }

    /// <summary>The actor that placed the hold: the client whose pending-hold cap it counts against.</summary>
    public string? Owner { get; init; }

    public HoldView ToView() => new(ReservationId, Quantity, Status, ExpiresAt);
}

/// <summary>
/// The holds of one line and the queue of their expiries, kept as values rather than as objects. A hot line keeps
/// hundreds of thousands of pending holds, and each of them used to be an object and a string. Nearly all outlive the
/// collection after the one that saw them made, so every young collection found, promoted and copied thousands of them,
/// and those pauses were the open loop's tail (see docs/benchmarks.md, tenth session).
/// <para>
/// The holds live in pages of <see cref="PageSize"/> slots. Only the first page grows (from two slots, so that a line
/// with one hold stays small); a full page is never moved or copied, and past it the table grows by a page, and by a
/// bucket index rebuilt from the hash codes the slots keep. One array of every hold, as in a
/// dictionary, is copied whole each time it doubles: at a quarter of a million holds that was a 29 MB copy, inside the
/// line's turn, and a new 58 MB array for the collector.
/// </para>
/// </summary>
public sealed class HoldTable
{
    /// <summary>Slots in a full page: about 120 KB, allocated once among the large objects, which are not moved.</summary>
    public const int PageSize = 1_024;

    private const int None = -1;

    private Slot[][] _pages = [];
    private int[] _buckets = [];
    private int _used;
    private int _free = None;
    private int _count;

    // The pending holds' expiries, by slot and the slot's version (an entry whose hold is gone, or no longer pending, is
    // dropped when it comes to the front), ordered by expiry and then by the sequence that placed the hold: holds due at
    // the same moment expire in the order they were placed, whether the line kept them or rebuilt them from a snapshot.
    private readonly ExpiryQueue _expiries = new();

    public int Count => _count;

    /// <summary>Every hold, its id made again as a string: for snapshots and checks, not for a request's path.</summary>
    public IEnumerable<Hold> All
    {
        get
        {
            for (var i = 0; i < _used; i++)
            {
                var slot = SlotAt(i);
                if (slot.InUse)
                {
                    yield return slot.Value.ToHold(slot.Key.ToString());
                }
            }
        }
    }

    /// <summary>The earliest expiry among pending holds, if any.</summary>
    public DateTimeOffset? NextExpiry
    {
        get
        {
            while (_expiries.TryPeek(out var queued))
            {
                ref var slot = ref SlotAt(queued.Slot);
                if (slot.InUse && slot.Version == queued.Version && slot.Value.Status == HoldStatus.Pending)
                {
                    return queued.At;
                }

                _expiries.Dequeue();
            }

            return null;
        }
    }

    public bool Contains(string reservationId) => Find(HoldKey.Of(reservationId)) != None;

    public bool TryGet(string reservationId, out Hold hold)
    {
        var index = Find(HoldKey.Of(reservationId));
        if (index == None)
        {
            hold = default;
            return false;
        }

        hold = SlotAt(index).Value.ToHold(reservationId);
        return true;
    }

    /// <summary>Adds a new hold; a pending one's expiry joins the queue.</summary>
    public void Add(Hold hold)
    {
        var key = HoldKey.Of(hold.ReservationId);
        var hash = key.GetHashCode();
        if (Find(key, hash) != None)
        {
            throw new ArgumentException($"Hold '{hold.ReservationId}' is already in the table.", nameof(hold));
        }

        var index = Insert(key, hash, new Stored(hold));
        if (hold.Status == HoldStatus.Pending)
        {
            _expiries.Enqueue(new Expiry(index, SlotAt(index).Version, hold.ExpiresAt, hold.Sequence));
        }
    }

    /// <summary>Adds or replaces a hold that is no longer pending: one brought back from the ledger.</summary>
    public void Set(Hold hold)
    {
        if (hold.Status == HoldStatus.Pending)
        {
            throw new ArgumentException("Only a finished hold may be set; a pending one is added.", nameof(hold));
        }

        var key = HoldKey.Of(hold.ReservationId);
        var hash = key.GetHashCode();
        var index = Find(key, hash);
        if (index == None)
        {
            Insert(key, hash, new Stored(hold));
        }
        else
        {
            SlotAt(index).Value = new Stored(hold);
        }
    }

    /// <summary>Records the hold's new status and the entry that moved it.</summary>
    public void Move(string reservationId, HoldStatus status, long sequence)
    {
        var index = Find(HoldKey.Of(reservationId));
        if (index == None)
        {
            throw new KeyNotFoundException($"No hold '{reservationId}'.");
        }

        ref var stored = ref SlotAt(index).Value;
        stored.Status = status;
        stored.Sequence = sequence;
    }

    public bool Remove(string reservationId)
    {
        if (_count == 0)
        {
            return false;
        }

        var key = HoldKey.Of(reservationId);
        var hash = key.GetHashCode();
        ref var bucket = ref Bucket(hash);
        var previous = None;
        for (var index = bucket; index != None; index = SlotAt(index).Next)
        {
            ref var slot = ref SlotAt(index);
            if (slot.HashCode != hash || !slot.Key.Equals(key))
            {
                previous = index;
                continue;
            }

            if (previous == None)
            {
                bucket = slot.Next;
            }
            else
            {
                SlotAt(previous).Next = slot.Next;
            }

            // The slot goes on the free list with a new version, so an expiry still queued for it is known as stale.
            slot = new Slot { Next = _free, Version = slot.Version + 1 };
            _free = index;
            _count--;
            return true;
        }

        return false;
    }

    /// <summary>Takes the pending hold whose expiry comes first, when it has come by <paramref name="now"/>.</summary>
    public bool TryTakeDue(DateTimeOffset now, out Hold hold)
    {
        if (NextExpiry is { } due && due <= now)
        {
            ref var slot = ref SlotAt(_expiries.Dequeue().Slot);
            hold = slot.Value.ToHold(slot.Key.ToString());
            return true;
        }

        hold = default;
        return false;
    }

    private ref Slot SlotAt(int index) => ref _pages[index / PageSize][index % PageSize];

    private ref int Bucket(int hash) => ref _buckets[hash & (_buckets.Length - 1)];


    private int Find(HoldKey key) => Find(key, key.GetHashCode());

    private int Find(HoldKey key, int hash)
    {
        if (_count == 0)
        {
            return None;
        }

        for (var index = Bucket(hash); index != None; index = SlotAt(index).Next)
        {
            ref var slot = ref SlotAt(index);
            if (slot.HashCode == hash && slot.Key.Equals(key))
            {
                return index;
            }
        }

        return None;
    }

    /// <summary>Puts a hold whose id is not in the table into a free slot, or a new one; <paramref name="hash"/> is the key's.</summary>
    private int Insert(HoldKey key, int hash, Stored value)
    {
        if (_count >= _buckets.Length)
        {
            Rebuild(Math.Max(4, _buckets.Length * 2));
        }

        int index;
        if (_free != None)
        {
            index = _free;
            _free = SlotAt(index).Next;
        }
        else
        {
            if (_pages.Length == 0)
            {
                // Most lines keep a few holds: the first page starts small and doubles until it is a whole page.
                _pages = [new Slot[2]];
            }
            else if (_used == _pages[^1].Length + (_pages.Length - 1) * PageSize)
            {
                if (_pages.Length == 1 && _pages[0].Length < PageSize)
                {
                    Array.Resize(ref _pages[0], Math.Min(PageSize, _pages[0].Length * 2));
                }
                else
                {
                    // Past the first page only the short array of pages is copied as the table grows, never a page.
                    Array.Resize(ref _pages, _pages.Length + 1);
                    _pages[^1] = new Slot[PageSize];
                }
            }

            index = _used++;
        }

        ref var bucket = ref Bucket(hash);
        ref var slot = ref SlotAt(index);
        slot = new Slot { Key = key, Value = value, HashCode = hash, Next = bucket, Version = slot.Version, InUse = true };
        bucket = index;
        _count++;
        return index;
    }

    /// <summary>A bucket index of <paramref name="size"/> (a power of two), chained again from the hash codes the slots keep.</summary>
    private void Rebuild(int size)
    {
        _buckets = new int[size];
        Array.Fill(_buckets, None);
        for (var index = 0; index < _used; index++)
        {
            ref var slot = ref SlotAt(index);
            if (slot.InUse)
            {
                ref var bucket = ref Bucket(slot.HashCode);
                slot.Next = bucket;
                bucket = index;
            }
        }
    }

    private struct Slot
    {
        public HoldKey Key;
        public Stored Value;
        public int HashCode;

        /// <summary>The next slot in the same bucket, or, for a free slot, the next free one.</summary>
        public int Next;

        /// <summary>Raised each time the slot is freed.</summary>
        public int Version;
        public bool InUse;
    }

    /// <summary>A pending hold's place in the expiry queue: its slot, the slot's version, and when it is due.</summary>
    private readonly record struct Expiry(int Slot, int Version, DateTimeOffset At, long Sequence)
    {
        public bool IsBefore(Expiry other) => At < other.At || (At == other.At && Sequence < other.Sequence);
    }

    /// <summary>
    /// The expiries in two parts. Holds are mostly placed with one lifetime, so nearly every hold is due no earlier than
    /// the one placed before it: those join the end of a run, kept in pages like the slots, which is never copied as it
    /// grows. A hold due before the run's last one goes to a heap, which stays as small as such holds are few. One heap of
    /// every expiry was one more array that doubled, and was copied whole, as a hot line's holds grew.
    /// </summary>
    private sealed class ExpiryQueue
    {
        private readonly PriorityQueue<Expiry, Expiry> _heap = new(Comparer<Expiry>.Create((a, b) => a.IsBefore(b) ? -1 : b.IsBefore(a) ? 1 : 0));
        private readonly Queue<Expiry[]> _pages = new();
        private Expiry[] _tail = [];
        private int _tailCount;
        private int _head;
        private int _runCount;

        public void Enqueue(Expiry expiry)
        {
            if (_runCount > 0 && expiry.IsBefore(_tail[_tailCount - 1]))
            {
                _heap.Enqueue(expiry, expiry);
                return;
            }

            if (_tailCount == _tail.Length)
            {
                // The first pages start small and double, so that a line with a few holds keeps a few entries.
                _tail = new Expiry[Math.Min(PageSize, Math.Max(4, _tail.Length * 2))];
                _tailCount = 0;
                _pages.Enqueue(_tail);
            }

            _tail[_tailCount++] = expiry;
            _runCount++;
        }

        public bool TryPeek(out Expiry expiry)
        {
            var inRun = _runCount > 0;
            var inHeap = _heap.TryPeek(out var fromHeap, out _);
            if (inRun && (!inHeap || !fromHeap.IsBefore(RunHead)))
            {
                expiry = RunHead;
                return true;
            }

            expiry = fromHeap;
            return inHeap;
        }

        public Expiry Dequeue()
        {
            if (!TryPeek(out var first))
            {
                throw new InvalidOperationException("No expiry is queued.");
            }

            if (_runCount > 0 && first == RunHead)
            {
                _runCount--;
                if (++_head == _pages.Peek().Length || _runCount == 0)
                {
                    // A page is dropped once read; the last one is read again from its start when it fills anew.
                    if (_pages.Count > 1)
                    {
                        _pages.Dequeue();
                    }
                    else
                    {
                        _tailCount = 0;
                    }

                    _head = 0;
                }
            }
            else
            {
                _heap.Dequeue();
            }

            return first;
        }

        private Expiry RunHead => _pages.Peek()[_head];
    }

    /// <summary>What the table keeps of a hold besides its id.</summary>
    private struct Stored(Hold hold)
    {
        public readonly long Quantity = hold.Quantity;
        public readonly DateTimeOffset ExpiresAt = hold.ExpiresAt;
        public readonly string Fingerprint = hold.Fingerprint;
        public readonly string? RefusalReason = hold.RefusalReason;
        public readonly string? Owner = hold.Owner;
        public long Sequence = hold.Sequence;
        public HoldStatus Status = hold.Status;

        public readonly Hold ToHold(string reservationId) =>
            new(reservationId, Quantity, Status, ExpiresAt, Fingerprint, Sequence) { RefusalReason = RefusalReason, Owner = Owner };
    }
}

/// <summary>
/// A reservation id as a line's hold table keeps it: packed into four 64-bit words when it fits, so that it is no
/// object of its own. An id of at most <see cref="MaxPacked"/> characters, each an ASCII letter, a digit, '-' or '_'
/// (a UUID's 36 characters fit), takes six bits a character; any other id keeps its string. An id that can be packed
/// always is, so two keys are equal exactly when their ids are, ordinally.
/// </summary>
internal readonly struct HoldKey : IEquatable<HoldKey>
{
    /// <summary>The longest id that is packed: ten characters in the low 60 bits of each word.</summary>
    public const int MaxPacked = 4 * CharsPerWord;

    private const int CharsPerWord = 10;
    private const int LengthShift = 60;
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

    // The six-bit code of each ASCII character, or -1 for one outside the alphabet.
    private static readonly sbyte[] Codes = MakeCodes();

    private readonly ulong _w0;
    private readonly ulong _w1;
    private readonly ulong _w2;
    private readonly ulong _w3;
    private readonly string? _text;

    private HoldKey(ulong w0, ulong w1, ulong w2, ulong w3) => (_w0, _w1, _w2, _w3) = (w0, w1, w2, w3);

    private HoldKey(string text) => _text = text;

    /// <summary>True when the id is kept as its string, because it could not be packed.</summary>
    public bool IsText => _text is not null;

    public static HoldKey Of(string id)
    {
        if (id.Length > MaxPacked)
        {
            return new HoldKey(id);
        }

        Span<ulong> words = stackalloc ulong[4];
        words.Clear();
        for (var i = 0; i < id.Length; i++)
        {
            var c = id[i];
            var code = c < Codes.Length ? Codes[c] : -1;
            if (code < 0)
            {
                return new HoldKey(id);
            }

            words[i / CharsPerWord] |= (ulong)code << (6 * (i % CharsPerWord));
        }

        // The length (at most 40) takes the four spare bits of the first two words.
        words[0] |= (ulong)(id.Length & 0xF) << LengthShift;
        words[1] |= (ulong)(id.Length >> 4) << LengthShift;
        return new HoldKey(words[0], words[1], words[2], words[3]);
    }

    public override string ToString()
    {
        if (_text is not null)
        {
            return _text;
        }

        var length = (int)(_w0 >> LengthShift) | (int)(_w1 >> LengthShift) << 4;
        return string.Create(length, this, static (chars, key) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                var word = (i / CharsPerWord) switch
                {
                    0 => key._w0,
                    1 => key._w1,
                    2 => key._w2,
                    _ => key._w3,
                };
                chars[i] = Alphabet[(int)(word >> (6 * (i % CharsPerWord))) & 0x3F];
            }
        });
    }

    public bool Equals(HoldKey other) =>
        _text is null
            ? other._text is null && _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3
            : string.Equals(_text, other._text, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is HoldKey other && Equals(other);

    public override int GetHashCode() => _text?.GetHashCode(StringComparison.Ordinal) ?? HashCode.Combine(_w0, _w1, _w2, _w3);

    private static sbyte[] MakeCodes()
    {
        var codes = new sbyte[128];
        Array.Fill(codes, (sbyte)-1);
        for (var i = 0; i < Alphabet.Length; i++)
        {
            codes[Alphabet[i]] = (sbyte)i;
        }

        return codes;
    }
}
