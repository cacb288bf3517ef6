namespace StockGrains;

/// <summary>
/// The one rule for every identifier in StockGrains: 1–64 characters of <c>A-Z a-z 0-9 . _ -</c>.
/// Identifiers are never trimmed, lower-cased or otherwise "fixed": two spellings of one SKU would become
/// two grains, and two grains for one shelf can both sell the last unit.
/// </summary>
public static class Ids
{
    public const int MaxLength = 64;

    public static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            var ok = c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '-';
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
