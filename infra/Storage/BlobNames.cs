namespace Dreamer.Storage;

/// <summary>
/// Name, prefix, ETag and metadata rules shared by every store, so a path or key that works on the
/// local folder also works on Azure and the other way round.
/// </summary>
public static class BlobNames
{
    /// <summary>Metadata key every Azure write carries to recognise its own write after a lost response.</summary>
    internal const string WriteIdKey = "dreamerwriteid";

    public const string DefaultContentType = "application/octet-stream";

    /// <summary>
    /// A blob path: '/'-separated, no leading or trailing '/', no empty, "." or ".." segment, no backslash
    /// or control character (a local folder could not represent them), at most 1024 characters (Azure's limit).
    /// </summary>
    public static string ValidatePath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path.Length > 1024)
            throw new ArgumentException($"blob path must have 1..1024 characters: '{path}'", nameof(path));
        if (path[0] == '/' || path[^1] == '/')
            throw new ArgumentException($"blob path must not start or end with '/': '{path}'", nameof(path));
        ValidateSegments(path, nameof(path));
        return path;
    }

    /// <summary>A listing or scoping prefix: empty, or like a path but may end with '/'.</summary>
    public static string ValidatePrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length == 0) return prefix;
        if (prefix[0] == '/')
            throw new ArgumentException($"prefix must not start with '/': '{prefix}'", nameof(prefix));
        ValidateSegments(prefix.EndsWith('/') ? prefix[..^1] : prefix, nameof(prefix));
        return prefix;
    }

    static void ValidateSegments(string path, string paramName)
    {
        foreach (var c in path)
            if (c == '\\' || char.IsControl(c))
                throw new ArgumentException($"blob path contains '\\' or a control character: '{path}'", paramName);
        foreach (var segment in path.Split('/'))
            if (segment.Length == 0 || segment == "." || segment == "..")
                throw new ArgumentException($"blob path has an empty, '.' or '..' segment: '{path}'", paramName);
    }

    /// <summary>
    /// Metadata keys are lowercase ASCII identifiers because Azure treats them case-insensitively and
    /// HTTP stacks lowercase them; values are printable ASCII without edge spaces (they travel as headers).
    /// </summary>
    public static IReadOnlyDictionary<string, string> ValidateMetadata(IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata == null || metadata.Count == 0) return Empty;
        foreach (var (key, value) in metadata)
        {
            if (key.Length == 0 || !(IsLower(key[0]) || key[0] == '_') || !key.All(c => IsLower(c) || char.IsAsciiDigit(c) || c == '_'))
                throw new ArgumentException($"metadata key must match [a-z_][a-z0-9_]*: '{key}'", nameof(metadata));
            if (key == WriteIdKey)
                throw new ArgumentException($"metadata key '{key}' is reserved", nameof(metadata));
            if (value.Any(c => c < 0x20 || c > 0x7e) || value.Trim().Length != value.Length)
                throw new ArgumentException($"metadata value of '{key}' must be printable ASCII without leading or trailing spaces", nameof(metadata));
        }
        return metadata;
    }

    static bool IsLower(char c) => c is >= 'a' and <= 'z';

    public static IReadOnlyDictionary<string, string> Empty { get; } = new Dictionary<string, string>();

    /// <summary>ETags are compared and sent in their quoted form ("0x8D..."); Azure listings return them bare.</summary>
    public static string QuoteETag(string etag)
        => etag.Length >= 2 && etag[0] == '"' && etag[^1] == '"' ? etag : $"\"{etag}\"";

    internal static void ValidateWriteOptions(BlobWriteOptions options)
    {
        if (options.Condition == WriteCondition.IfMatch && string.IsNullOrEmpty(options.IfMatchETag))
            throw new ArgumentException("WriteCondition.IfMatch needs IfMatchETag", nameof(options));
        if (options.Condition != WriteCondition.IfMatch && options.IfMatchETag != null)
            throw new ArgumentException("IfMatchETag is only used with WriteCondition.IfMatch", nameof(options));
    }
}
