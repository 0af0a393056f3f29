using System.Security.Cryptography;
using System.Text;

namespace Dreamer.Storage.Azure;

/// <summary>
/// Shared Key authorization for the Blob service: the string-to-sign of the 2009-09-19+ scheme and its
/// HMAC-SHA256. Kept free of HttpClient types so the reference test vectors can check it directly.
/// </summary>
internal static class SharedKeySigner
{
    static readonly string[] StandardHeaders =
    [
        "Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type", "Date",
        "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
    ];

    /// <param name="headers">Every header sent (case-insensitive names), including Content-Length when there is a body.</param>
    /// <param name="encodedPath">The request path exactly as sent (percent-encoded), starting with '/'.</param>
    /// <param name="query">Query parameters with decoded values.</param>
    public static string StringToSign(string method, IReadOnlyDictionary<string, string> headers, string account,
        string encodedPath, IEnumerable<KeyValuePair<string, string>> query)
    {
        var sb = new StringBuilder(method).Append('\n');
        foreach (var name in StandardHeaders)
        {
            var value = headers.GetValueOrDefault(name, "");
            // Since 2015-02-21 a zero Content-Length is signed as an empty line.
            if (name == "Content-Length" && value == "0") value = "";
            sb.Append(value).Append('\n');
        }
        foreach (var (name, value) in headers
                     .Where(h => h.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
                     .Select(h => (Name: h.Key.ToLowerInvariant(), Value: h.Value.Trim()))
                     .OrderBy(h => h.Name, StringComparer.Ordinal))
            sb.Append(name).Append(':').Append(value).Append('\n');
        sb.Append('/').Append(account).Append(encodedPath);
        foreach (var group in query
                     .GroupBy(q => q.Key.ToLowerInvariant())
                     .OrderBy(g => g.Key, StringComparer.Ordinal))
            sb.Append('\n').Append(group.Key).Append(':')
              .Append(string.Join(',', group.Select(q => q.Value).OrderBy(v => v, StringComparer.Ordinal)));
        return sb.ToString();
    }

    public static string Authorization(string account, byte[] key, string stringToSign)
        => $"SharedKey {account}:{Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)))}";
}
