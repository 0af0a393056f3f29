using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Dreamer.Storage.Azure;

/// <summary>
/// A storage account's blob endpoint and credential (Shared Key or SAS). The endpoint is either
/// virtual-host style (https://acct.blob.core.windows.net) or path style with the account as the first
/// path segment (Azurite: http://127.0.0.1:10000/devstoreaccount1); requests append /container/blob to it
/// either way. ToString and DisplayUri never reveal the key or the SAS signature.
/// </summary>
public sealed class AzureStorageAccount
{
    public const string DevelopmentAccountName = "devstoreaccount1";
    /// <summary>Azurite's published, well-known key: not a secret.</summary>
    public const string DevelopmentAccountKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    public static readonly Uri DevelopmentBlobEndpoint = new("http://127.0.0.1:10000/devstoreaccount1");

    /// <summary>The x-ms-version every request and generated SAS pins (Azurite accepts it from 3.22 on).</summary>
    public const string ServiceVersion = "2021-12-02";

    AzureStorageAccount(string name, Uri blobEndpoint, byte[]? key, string? sasToken, string credentialSource)
    {
        Name = name;
        BlobEndpoint = new Uri(blobEndpoint.GetLeftPart(UriPartial.Path).TrimEnd('/'));
        Key = key;
        SasToken = sasToken;
        CredentialSource = credentialSource;
    }

    public string Name { get; }

    /// <summary>Endpoint without trailing slash, query or credentials.</summary>
    public Uri BlobEndpoint { get; }

    /// <summary>Names the setting the credential came from, for messages about a refused credential.</summary>
    public string CredentialSource { get; }

    internal byte[]? Key { get; }

    /// <summary>SAS query string without the leading '?'.</summary>
    internal string? SasToken { get; }

    public bool UsesSas => SasToken != null;

    public override string ToString() => $"{Name} at {BlobEndpoint}";

    public static AzureStorageAccount FromSharedKey(string accountName, string base64Key, Uri? blobEndpoint = null,
        string credentialSource = "AccountKey")
    {
        ValidateAccountName(accountName, credentialSource);
        byte[] key;
        try { key = Convert.FromBase64String(base64Key); }
        catch (FormatException) { throw new BlobStoreConfigurationException(credentialSource, "the account key is not valid base64"); }
        if (key.Length == 0) throw new BlobStoreConfigurationException(credentialSource, "the account key is empty");
        return new AzureStorageAccount(accountName, blobEndpoint ?? DefaultBlobEndpoint(accountName), key, null, credentialSource);
    }

    public static AzureStorageAccount FromSas(string accountName, string sasToken, Uri? blobEndpoint = null,
        string credentialSource = "SAS token")
    {
        ValidateAccountName(accountName, credentialSource);
        var token = sasToken.TrimStart('?');
        if (!token.Split('&').Any(p => p.StartsWith("sig=", StringComparison.Ordinal)))
            throw new BlobStoreConfigurationException(credentialSource, "a SAS token needs a sig= parameter");
        return new AzureStorageAccount(accountName, blobEndpoint ?? DefaultBlobEndpoint(accountName), null, token, credentialSource);
    }

    /// <summary>Azurite's well-known account (UseDevelopmentStorage=true); endpoint defaults to 127.0.0.1:10000.</summary>
    public static AzureStorageAccount DevelopmentStorage(Uri? blobEndpoint = null)
        => FromSharedKey(DevelopmentAccountName, DevelopmentAccountKey, blobEndpoint ?? DevelopmentBlobEndpoint,
            "UseDevelopmentStorage");

    public static Uri DefaultBlobEndpoint(string accountName, string protocol = "https", string suffix = "core.windows.net")
        => new($"{protocol}://{accountName}.blob.{suffix}");

    /// <summary>
    /// Parses "UseDevelopmentStorage=true" or "DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;
    /// [BlobEndpoint=...|EndpointSuffix=...];[SharedAccessSignature=...]". settingName (e.g. the environment
    /// variable) is named in errors; the string itself never is, since it holds the key.
    /// </summary>
    public static AzureStorageAccount FromConnectionString(string connectionString, string settingName = "connection string")
    {
        var parts = ParseConnectionString(connectionString, settingName);
        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && dev.Equals("true", StringComparison.OrdinalIgnoreCase))
            return FromSharedKey(DevelopmentAccountName, DevelopmentAccountKey, DevelopmentBlobEndpoint, settingName);
        if (!parts.TryGetValue("AccountName", out var name))
            throw new BlobStoreConfigurationException(settingName, "AccountName is missing");
        Uri blobEndpoint;
        if (parts.TryGetValue("BlobEndpoint", out var explicitEndpoint))
        {
            if (!Uri.TryCreate(explicitEndpoint, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
                throw new BlobStoreConfigurationException(settingName, "BlobEndpoint is not an http(s) URL");
            blobEndpoint = parsed;
        }
        else
        {
            var protocol = parts.GetValueOrDefault("DefaultEndpointsProtocol", "https");
            if (protocol is not ("http" or "https"))
                throw new BlobStoreConfigurationException(settingName, "DefaultEndpointsProtocol must be http or https");
            blobEndpoint = DefaultBlobEndpoint(name, protocol, parts.GetValueOrDefault("EndpointSuffix", "core.windows.net"));
        }
        if (parts.TryGetValue("AccountKey", out var key))
            return FromSharedKey(name, key, blobEndpoint, $"{settingName} (AccountKey)");
        if (parts.TryGetValue("SharedAccessSignature", out var sas))
            return FromSas(name, sas, blobEndpoint, $"{settingName} (SharedAccessSignature)");
        throw new BlobStoreConfigurationException(settingName, "needs AccountKey or SharedAccessSignature");
    }

    /// <summary>Key=value pairs separated by ';' (keys case-insensitive; a value may contain '=').</summary>
    internal static Dictionary<string, string> ParseConnectionString(string connectionString, string settingName)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new BlobStoreConfigurationException(settingName, "the connection string is empty");
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = segment.IndexOf('=');
            if (eq <= 0)
                throw new BlobStoreConfigurationException(settingName, "expected Key=Value pairs separated by ';'");
            parts[segment[..eq].Trim()] = segment[(eq + 1)..].Trim();
        }
        return parts;
    }

    static void ValidateAccountName(string name, string setting)
    {
        if (name.Length is < 3 or > 24 || !name.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'z'))
            throw new BlobStoreConfigurationException(setting, "an account name has 3-24 lowercase letters and digits");
    }

    /// <summary>
    /// A service SAS for a container (blob null, sr=c) or one blob (sr=b), signed with the account key.
    /// permissions: a subset of "racwdl" in that order. Returns the query string without '?'.
    /// </summary>
    public string CreateServiceSas(string container, string? blob, string permissions, DateTimeOffset expiresOn,
        DateTimeOffset? startsOn = null)
    {
        if (Key == null) throw new InvalidOperationException("creating a SAS needs the account key");
        var resource = blob == null ? "c" : "b";
        var start = startsOn is { } s ? FormatSasTime(s) : "";
        var expiry = FormatSasTime(expiresOn);
        var canonical = $"/blob/{Name}/{container}" + (blob == null ? "" : "/" + blob);
        // Field order of the 2020-12-06+ service SAS; the unused ones (identifier, IP, protocol, snapshot,
        // encryption scope, response headers) stay empty lines.
        var stringToSign = string.Join('\n', permissions, start, expiry, canonical, "", "", "", ServiceVersion, resource,
            "", "", "", "", "", "", "");
        var signature = Convert.ToBase64String(HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(stringToSign)));
        var query = new StringBuilder($"sv={ServiceVersion}&sr={resource}&sp={permissions}");
        if (start.Length > 0) query.Append("&st=").Append(Uri.EscapeDataString(start));
        query.Append("&se=").Append(Uri.EscapeDataString(expiry)).Append("&sig=").Append(Uri.EscapeDataString(signature));
        return query.ToString();
    }

    static string FormatSasTime(DateTimeOffset time)
        => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
