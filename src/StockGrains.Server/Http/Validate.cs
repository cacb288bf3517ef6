namespace StockGrains.Server.Http;

/// <summary>Collects per-field errors of one request so they are all reported at once.</summary>
public sealed class Validate
{
    /// <summary>The largest quantity one request may move.</summary>
    public const long MaxQuantity = 1_000_000_000;

    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Ok => _errors.Count == 0;

    public Validate Id(string field, string? value)
    {
        if (!Ids.IsValid(value))
        {
            Add(field, $"Must be 1–{Ids.MaxLength} characters of A-Z a-z 0-9 . _ -");
        }

        return this;
    }

    public Validate Quantity(string field, long? value)
    {
        if (value is null)
        {
            Add(field, "Required.");
        }
        else if (value is < 1 or > MaxQuantity)
        {
            Add(field, $"Must be a whole number from 1 to {MaxQuantity:N0}.");
        }

        return this;
    }

    /// <summary>A signed quantity: not zero, at most <see cref="MaxQuantity"/> either way.</summary>
    public Validate Delta(string field, long? value)
    {
        if (value is null)
        {
            Add(field, "Required.");
        }
        else if (value is 0 or < -MaxQuantity or > MaxQuantity)
        {
            Add(field, $"Must be a non-zero whole number from -{MaxQuantity:N0} to {MaxQuantity:N0}.");
        }

        return this;
    }

    /// <summary>A count: zero or more.</summary>
    public Validate Counted(string field, long? value)
    {
        if (value is null)
        {
            Add(field, "Required.");
        }
        else if (value is < 0 or > MaxQuantity)
        {
            Add(field, $"Must be a whole number from 0 to {MaxQuantity:N0}.");
        }

        return this;
    }

    public Validate Text(string field, string? value, int maxLength)
    {
        if (value is not null && (value.Length > maxLength || value.Any(char.IsControl)))
        {
            Add(field, $"At most {maxLength} characters, no control characters.");
        }

        return this;
    }

    /// <summary>
    /// An optional whole number from a query string, from <paramref name="min"/> to <paramref name="max"/>: null when it
    /// is absent or refused. Query parameters are read here rather than bound as numbers by the framework, whose refusal of
    /// "abc" would come back as a bare 400 without the field that caused it.
    /// </summary>
    public long? Number(string field, string? text, long min, long max)
    {
        if (text is null)
        {
            return null;
        }

        if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            && value >= min && value <= max)
        {
            return value;
        }

        Add(field, $"Must be a whole number from {min:N0} to {max:N0}.");
        return null;
    }

    public Validate Check(bool condition, string field, string message)
    {
        if (!condition)
        {
            Add(field, message);
        }

        return this;
    }

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list))
        {
            _errors[field] = list = [];
        }

        list.Add(message);
    }

    public Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Problem() =>
        Problems.Validation(_errors.ToDictionary(e => e.Key, e => e.Value.ToArray()));
}
