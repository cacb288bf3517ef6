using System.Text.Json;

namespace StockGrains.Chaos;

/// <summary>One ledger entry as the API returns it: the part the checker needs.</summary>
public sealed record Entry(long Sequence, string Kind, long Quantity, string? ReservationId, string OperationId, long OnHandAfter, long ReservedAfter);

/// <summary>What the cluster says after healing: every line, its whole ledger, and every order the workload placed.</summary>
public sealed record FinalState(
    IReadOnlyDictionary<string, (long OnHand, long Reserved, long Sequence)> Lines,
    IReadOnlyDictionary<string, IReadOnlyList<Entry>> Ledgers,
    IReadOnlyDictionary<string, string?> ReservationStatus);

/// <summary>The checker's verdict: each count must be 0. Examples name the first violations of each kind.</summary>
public sealed record ChaosReport(
    int Seed,
    int Operations,
    int Attempts,
    int UnknownOutcomes,
    int Oversell,
    int AcknowledgedButLost,
    int DuplicateEffects,
    int ConservationErrors,
    int PhantomEntries,
    int RefusedButApplied,
    IReadOnlyList<string> Examples)
{
    public bool Clean => Oversell + AcknowledgedButLost + DuplicateEffects + ConservationErrors + PhantomEntries + RefusedButApplied == 0;

    public override string ToString() =>
        $"""
        seed {Seed}: {Operations} operations, {Attempts} attempts, {UnknownOutcomes} attempts with an unknown outcome
          oversell                {Oversell}
          acknowledged-but-lost   {AcknowledgedButLost}
          duplicate effects       {DuplicateEffects}
          conservation errors     {ConservationErrors}
          phantom entries         {PhantomEntries}
          refused-but-applied     {RefusedButApplied}
        {string.Join("\n", Examples.Select(e => "  - " + e))}
        """;
}

/// <summary>
/// Checks a history against the final state. The ledger is the durable truth: an acknowledged operation must have its
/// entry, a refused one must not, no entry may appear that nobody asked for, no logical operation may take effect
/// twice, and every line's balances must follow from its entries.
/// </summary>
public static class Checker
{
    private const int MaxExamples = 12;

    /// <summary>The entry kind each operation leaves behind when it takes effect.</summary>
    private static readonly Dictionary<string, string[]> EffectKinds = new()
    {
        ["receive"] = ["received"],
        ["adjust"] = ["adjusted"],
        ["reserve"] = ["reserved"],
        ["commit"] = ["committed"],
        ["ship"] = ["shipped"],

        // Releasing a hold that has already expired answers unchanged; the expiry is the effect then.
        ["release"] = ["released", "expired"],
    };

    public static ChaosReport Check(int seed, IReadOnlyCollection<Attempt> attempts, FinalState final)
    {
        var examples = new List<string>();
        void Example(string text)
        {
            if (examples.Count < MaxExamples)
            {
                examples.Add(text);
            }
        }

        // Effects by (line, kind, id): received/adjusted are keyed by operation id, hold transitions by reservation id.
        var effects = new Dictionary<(string Line, string Kind, string Id), int>();
        foreach (var (line, entries) in final.Ledgers)
        {
            foreach (var e in entries)
            {
                var id = e.Kind is "received" or "adjusted" ? e.OperationId : e.ReservationId;
                if (id is not null && e.Kind != "refused")
                {
                    effects[(line, e.Kind, id)] = effects.GetValueOrDefault((line, e.Kind, id)) + 1;
                }
            }
        }

        int EffectsOf(Attempt a) => EffectKinds[a.Kind].Sum(kind => effects.GetValueOrDefault((a.Line, kind, a.Id)));

        var operations = attempts.GroupBy(a => a.Op).ToList();
        int lost = 0, duplicates = 0, refusedButApplied = 0;
        foreach (var op in operations)
        {
            var tries = op.OrderBy(a => a.Try).ToList();
            var first = tries[0];
            var ids = tries.Select(a => a.Id).Distinct().ToList();
            var withEffect = ids.Count(id => EffectsOf(first with { Id = id }) > 0);
            var acknowledged = tries.Any(a => a.Outcome == Outcome.Ok);
            if (acknowledged && withEffect == 0)
            {
                lost++;
                Example($"acknowledged but lost: {first.Kind} {first.Id} on {first.Line} (op {op.Key})");
            }
            else if (acknowledged && first.Kind == "reserve" && final.ReservationStatus.GetValueOrDefault(first.Id) is null)
            {
                lost++;
                Example($"acknowledged but lost: order {first.Id} does not exist after healing");
            }

            if (withEffect > 1 || ids.Any(id => EffectsOf(first with { Id = id }) > 1))
            {
                duplicates++;
                Example($"duplicate effect: {first.Kind} op {op.Key} took effect under {string.Join(", ", ids)}");
            }

            if (!acknowledged && tries.FirstOrDefault(a => a.Outcome == Outcome.Fail) is { } refused && EffectsOf(refused) > 0)
            {
                refusedButApplied++;
                Example($"refused but applied: {refused.Kind} {refused.Id} on {refused.Line} answered {refused.Status} {refused.Code}");
            }
        }

        // Phantoms: an effect whose id no attempt of that kind ever used.
        var invoked = attempts.SelectMany(a => EffectKinds[a.Kind].Select(kind => (a.Line, kind, a.Id))).ToHashSet();
        var phantoms = 0;
        foreach (var (key, count) in effects)
        {
            // Expiry is the system's own act; it is not asked for by anyone.
            if (key.Kind != "expired" && !invoked.Contains(key))
            {
                phantoms += count;
                Example($"phantom entry: {key.Kind} {key.Id} on {key.Line}, never invoked");
            }
        }

        var (oversell, conservation) = CheckLines(final, Example);
        return new ChaosReport(seed, operations.Count, attempts.Count, attempts.Count(a => a.Outcome == Outcome.Unknown), oversell, lost, duplicates,
            conservation, phantoms, refusedButApplied, examples);
    }

    /// <summary>Replays each ledger from nothing: every entry's balances, and the line's final read, must follow.</summary>
    private static (int Oversell, int Conservation) CheckLines(FinalState final, Action<string> example)
    {
        int oversell = 0, conservation = 0;
        foreach (var (line, entries) in final.Ledgers)
        {
            long onHand = 0, reserved = 0, expected = 1;
            var open = new Dictionary<string, long>();
            var broken = false;
            foreach (var e in entries)
            {
                if (e.Sequence != expected++)
                {
                    broken = true;
                    example($"conservation: {line} skips to sequence {e.Sequence}");
                }

                switch (e.Kind)
                {
                    case "received" or "returned" or "transferred_in" or "adjusted" or "counted":
                        onHand += e.Quantity;
                        break;
                    case "transferred_out":
                        onHand -= e.Quantity;
                        break;
                    case "reserved":
                        reserved += e.Quantity;
                        open[e.ReservationId!] = e.Quantity;
                        break;
                    case "shipped":
                        onHand -= open.GetValueOrDefault(e.ReservationId!);
                        reserved -= open.GetValueOrDefault(e.ReservationId!);
                        open.Remove(e.ReservationId!);
                        break;
                    case "released" or "expired":
                        reserved -= open.GetValueOrDefault(e.ReservationId!);
                        open.Remove(e.ReservationId!);
                        break;
                }

                if (onHand != e.OnHandAfter || reserved != e.ReservedAfter)
                {
                    broken = true;
                    example($"conservation: {line} entry {e.Sequence} ({e.Kind}) records {e.OnHandAfter}/{e.ReservedAfter}, its history gives {onHand}/{reserved}");
                }

                if (e.OnHandAfter < 0 || e.ReservedAfter > e.OnHandAfter)
                {
                    oversell++;
                    example($"oversell: {line} entry {e.Sequence} ({e.Kind}) leaves on hand {e.OnHandAfter}, reserved {e.ReservedAfter}");
                }
            }

            var read = final.Lines[line];
            if (read != (onHand, reserved, entries.Count) || open.Values.Sum() != reserved)
            {
                broken = true;
                example($"conservation: {line} reads {read}, its ledger gives ({onHand}, {reserved}, {entries.Count}), open holds {open.Values.Sum()}");
            }

            conservation += broken ? 1 : 0;
        }

        return (oversell, conservation);
    }

    /// <summary>Reads the final state through a live silo, paging through each ledger.</summary>
    public static async Task<FinalState> ReadAsync(HttpClient http, IEnumerable<string> lines, IEnumerable<string> reservationIds)
    {
        var reads = new Dictionary<string, (long, long, long)>();
        var ledgers = new Dictionary<string, IReadOnlyList<Entry>>();
        foreach (var line in lines)
        {
            var view = await GetAsync(http, $"/v1/stock/{line}");
            reads[line] = (view.GetProperty("onHand").GetInt64(), view.GetProperty("reserved").GetInt64(), view.GetProperty("sequence").GetInt64());
            var entries = new List<Entry>();
            while (true)
            {
                var page = await GetAsync(http, $"/v1/stock/{line}/ledger?after={entries.Count}&limit=1000");
                var rows = page.GetProperty("entries").EnumerateArray().ToList();
                entries.AddRange(rows.Select(r => new Entry(r.GetProperty("sequence").GetInt64(), r.GetProperty("kind").GetString()!,
                    r.GetProperty("quantity").GetInt64(), r.TryGetProperty("reservationId", out var rid) ? rid.GetString() : null,
                    r.GetProperty("operationId").GetString()!, r.GetProperty("onHandAfter").GetInt64(), r.GetProperty("reservedAfter").GetInt64())));
                if (rows.Count < 1000)
                {
                    break;
                }
            }

            ledgers[line] = entries;
        }

        var statuses = new Dictionary<string, string?>();
        foreach (var id in reservationIds.Distinct())
        {
            var (status, body) = await TryGetAsync(http, $"/v1/reservations/{id}");
            statuses[id] = status == 200 ? body.GetProperty("status").GetString() : null;
        }

        return new FinalState(reads, ledgers, statuses);
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string path)
    {
        var (status, body) = await TryGetAsync(http, path);
        return status == 200 ? body : throw new InvalidOperationException($"GET {path} answered {status} after healing: {body}");
    }

    /// <summary>The cluster has healed, but a line may still be reloading: a few retries on 503 or a refused connection.</summary>
    private static async Task<(int Status, JsonElement Body)> TryGetAsync(HttpClient http, string path)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await http.GetAsync(path);
                var text = await response.Content.ReadAsStringAsync();
                if ((int)response.StatusCode < 500 || attempt == 20)
                {
                    return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
                }
            }
            catch (Exception ex) when ((ex is HttpRequestException or TaskCanceledException) && attempt < 20)
            {
                // Try again below.
            }

            await Task.Delay(500);
        }
    }
}
