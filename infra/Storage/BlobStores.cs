using Dreamer.Storage.Azure;

namespace Dreamer.Storage;

public sealed record BlobStoreOpenOptions
{
    /// <summary>Container for a connection string that names none (Container=... in the string wins).</summary>
    public string? Container { get; init; }

    /// <summary>Scopes the store under this prefix, after any prefix the URI itself carries.</summary>
    public string? Prefix { get; init; }

    /// <summary>Credentials from configuration, used before the environment variables.</summary>
    public string? AccountKey { get; init; }

    public string? SasToken { get; init; }

    public AzureBlobStoreOptions? Azure { get; init; }

    public LocalFolderStoreOptions? Local { get; init; }

    /// <summary>Where AZURE_STORAGE_* come from (tests substitute a dictionary).</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;
}

/// <summary>
/// Opens a store from the --store setting:
/// <list type="bullet">
/// <item>a plain path or file:// URI: <see cref="LocalFolderStore"/>;</item>
/// <item>https://&lt;account&gt;.blob.core.windows.net/&lt;container&gt;[/&lt;prefix&gt;] (or path style
/// http://127.0.0.1:10000/&lt;account&gt;/&lt;container&gt;/... for Azurite), credentials from a SAS in the URL,
/// the options, or AZURE_STORAGE_SAS_TOKEN / AZURE_STORAGE_KEY / AZURE_STORAGE_CONNECTION_STRING;</item>
/// <item>a connection string (UseDevelopmentStorage=true, or AccountName=...;AccountKey=...), optionally with
/// our own Container=... and Prefix=... entries.</item>
/// </list>
/// Malformed input or missing credentials raise <see cref="BlobStoreConfigurationException"/> naming the setting.
/// </summary>
public static class BlobStores
{
    public const string DefaultContainer = "dreamer";
    const string Setting = "store";

    static readonly string[] ConnectionStringKeys =
    [
        "UseDevelopmentStorage", "DefaultEndpointsProtocol", "AccountName", "AccountKey", "BlobEndpoint",
        "EndpointSuffix", "SharedAccessSignature", "Container", "Prefix",
    ];

    public static IBlobStore Open(string uriOrConnectionString, BlobStoreOpenOptions? options = null)
    {
        options ??= new BlobStoreOpenOptions();
        var text = uriOrConnectionString?.Trim() ?? "";
        if (text.Length == 0) throw new BlobStoreConfigurationException(Setting, "no store given (a folder, file://, https:// URL or connection string)");

        if (text.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var fileUri) || !fileUri.IsFile)
                throw new BlobStoreConfigurationException(Setting, $"'{text}' is not a valid file:// URI");
            return Scope(new LocalFolderStore(fileUri.LocalPath, options.Local), options.Prefix);
        }
        if (text.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            return OpenUrl(text, options);
        if (LooksLikeConnectionString(text))
            return OpenConnectionString(text, Setting, options);
        return Scope(new LocalFolderStore(text, options.Local), options.Prefix);
    }

    /// <summary>A store scoped under prefix, or the store itself for an empty prefix.</summary>
    public static IBlobStore Scope(IBlobStore store, string? prefix)
        => string.IsNullOrEmpty(prefix?.Trim('/')) ? store : new PrefixedBlobStore(store, prefix.Trim('/'));

    static bool LooksLikeConnectionString(string text)
    {
        var eq = text.IndexOf('=');
        return eq > 0 && ConnectionStringKeys.Contains(text[..eq].Trim(), StringComparer.OrdinalIgnoreCase);
    }

    static IBlobStore OpenConnectionString(string connectionString, string settingName, BlobStoreOpenOptions options)
    {
        var account = AzureStorageAccount.FromConnectionString(connectionString, settingName);
        var parts = AzureStorageAccount.ParseConnectionString(connectionString, settingName);
        var container = parts.GetValueOrDefault("Container") ?? options.Container ?? DefaultContainer;
        var store = new AzureBlobStore(account, container, options.Azure);
        return Scope(store, JoinPrefix(parts.GetValueOrDefault("Prefix"), options.Prefix));
    }

    static IBlobStore OpenUrl(string text, BlobStoreOpenOptions options)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.UserInfo.Length > 0)
            throw new BlobStoreConfigurationException(Setting, "not a valid blob URL (https://<account>.blob.core.windows.net/<container>[/<prefix>])");
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToList();
        // Azurite and other emulators put the account in the path (http://127.0.0.1:10000/devstoreaccount1/...).
        var pathStyle = uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 || uri.IsLoopback;
        string accountName;
        Uri endpoint;
        if (pathStyle)
        {
            if (segments.Count == 0) throw new BlobStoreConfigurationException(Setting, "a path-style URL needs /<account>/<container>");
            accountName = segments[0];
            segments.RemoveAt(0);
            endpoint = new Uri($"{uri.Scheme}://{uri.Authority}/{accountName}");
        }
        else
        {
            accountName = uri.Host.Split('.')[0];
            endpoint = new Uri($"{uri.Scheme}://{uri.Authority}");
        }
        if (segments.Count == 0)
            throw new BlobStoreConfigurationException(Setting, "the URL names no container (https://<account>.blob.core.windows.net/<container>[/<prefix>])");
        var container = segments[0];
        var prefix = string.Join('/', segments.Skip(1));

        var account = ResolveCredential(accountName, endpoint, uri.Query.TrimStart('?'), options);
        return Scope(new AzureBlobStore(account, container, options.Azure), JoinPrefix(prefix, options.Prefix));
    }

    /// <summary>First found wins: SAS in the URL, options, AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_KEY, then a connection string for the same account.</summary>
    static AzureStorageAccount ResolveCredential(string accountName, Uri endpoint, string urlQuery, BlobStoreOpenOptions options)
    {
        if (urlQuery.Contains("sig=", StringComparison.Ordinal))
            return AzureStorageAccount.FromSas(accountName, urlQuery, endpoint, "the SAS token in the store URL");
        if (!string.IsNullOrEmpty(options.SasToken))
            return AzureStorageAccount.FromSas(accountName, options.SasToken, endpoint, "the configured SAS token");
        if (!string.IsNullOrEmpty(options.AccountKey))
            return AzureStorageAccount.FromSharedKey(accountName, options.AccountKey, endpoint, "the configured account key");
        var env = options.GetEnvironmentVariable;
        if (env("AZURE_STORAGE_SAS_TOKEN") is { Length: > 0 } sas)
            return AzureStorageAccount.FromSas(accountName, sas, endpoint, "AZURE_STORAGE_SAS_TOKEN");
        if (env("AZURE_STORAGE_KEY") is { Length: > 0 } key)
            return AzureStorageAccount.FromSharedKey(accountName, key, endpoint, "AZURE_STORAGE_KEY");
        if (env("AZURE_STORAGE_CONNECTION_STRING") is { Length: > 0 } connectionString)
        {
            var fromEnv = AzureStorageAccount.FromConnectionString(connectionString, "AZURE_STORAGE_CONNECTION_STRING");
            if (fromEnv.Name == accountName)
                return fromEnv.Key != null
                    ? AzureStorageAccount.FromSharedKey(accountName, Convert.ToBase64String(fromEnv.Key), endpoint, fromEnv.CredentialSource)
                    : AzureStorageAccount.FromSas(accountName, fromEnv.SasToken!, endpoint, fromEnv.CredentialSource);
        }
        throw new BlobStoreConfigurationException("AZURE_STORAGE_KEY",
            $"no credential for storage account '{accountName}': set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, " +
            "AZURE_STORAGE_CONNECTION_STRING for that account, or put a SAS token in the URL");
    }

    static string? JoinPrefix(string? first, string? second)
    {
        var parts = new[] { first, second }.Select(p => p?.Trim('/')).Where(p => !string.IsNullOrEmpty(p)).ToList();
        return parts.Count == 0 ? null : string.Join('/', parts);
    }
}
