using Dreamer.Storage.Azure;

namespace Dreamer.Storage.Tests;

/// <summary>Pure unit tests of signing, SAS, connection strings and store URIs (no Azurite needed).</summary>
public sealed class SharedKeyAndConnectionTests
{
    static readonly byte[] DevKey = Convert.FromBase64String(AzureStorageAccount.DevelopmentAccountKey);
    const string Date = "Mon, 01 Jun 2026 12:00:00 GMT";

    [Fact]
    public void SharedKey_PutBlobCreateOnly_MatchesTheReferenceVector()
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Content-Length"] = "11",
            ["Content-Type"] = "application/json",
            ["If-None-Match"] = "*",
            ["x-ms-blob-type"] = "BlockBlob",
            ["x-ms-date"] = Date,
            ["x-ms-version"] = "2021-12-02",
        };
        var stringToSign = SharedKeySigner.StringToSign("PUT", headers, "devstoreaccount1",
            "/devstoreaccount1/runs/ingest/manifest.json", []);
        Assert.Equal("PUT\n\n\n11\n\napplication/json\n\n\n\n*\n\n\nx-ms-blob-type:BlockBlob\nx-ms-date:" + Date +
                     "\nx-ms-version:2021-12-02\n/devstoreaccount1/devstoreaccount1/runs/ingest/manifest.json", stringToSign);
        Assert.Equal("SharedKey devstoreaccount1:MtDciulfwNQh3vIfLoNMyujZzfDSzbXcSDdZvvijNr4=",
            SharedKeySigner.Authorization("devstoreaccount1", DevKey, stringToSign));
    }

    [Fact]
    public void SharedKey_ListWithPrefixAndDelimiter_MatchesTheReferenceVector()
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["x-ms-date"] = Date,
            ["x-ms-version"] = "2021-12-02",
        };
        KeyValuePair<string, string>[] query =
            [new("restype", "container"), new("comp", "list"), new("prefix", "ingest/"), new("delimiter", "/")];
        var stringToSign = SharedKeySigner.StringToSign("GET", headers, "devstoreaccount1", "/devstoreaccount1/runs", query);
        Assert.EndsWith("/devstoreaccount1/devstoreaccount1/runs\ncomp:list\ndelimiter:/\nprefix:ingest/\nrestype:container", stringToSign);
        Assert.Equal("SharedKey devstoreaccount1:n79I85gOTFVELlVpG0zr3aZ9yMgtR1Fa8XWCFEQgp5o=",
            SharedKeySigner.Authorization("devstoreaccount1", DevKey, stringToSign));
    }

    [Fact]
    public void SharedKey_ZeroContentLength_IsSignedAsEmpty()
    {
        var headers = new Dictionary<string, string> { ["Content-Length"] = "0" };
        Assert.StartsWith("PUT\n\n\n\n", SharedKeySigner.StringToSign("PUT", headers, "a", "/c", []));
    }

    [Fact]
    public void ConnectionStrings_DevelopmentStorage_Full_AndSas()
    {
        var dev = AzureStorageAccount.FromConnectionString("UseDevelopmentStorage=true");
        Assert.Equal("devstoreaccount1", dev.Name);
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1", dev.BlobEndpoint.AbsoluteUri);

        var full = AzureStorageAccount.FromConnectionString(
            "DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey=" + AzureStorageAccount.DevelopmentAccountKey + ";EndpointSuffix=core.windows.net");
        Assert.Equal("https://myacct.blob.core.windows.net/", full.BlobEndpoint.AbsoluteUri);
        Assert.DoesNotContain(AzureStorageAccount.DevelopmentAccountKey, full.ToString());

        var explicitEndpoint = AzureStorageAccount.FromConnectionString(
            "AccountName=devstoreaccount1;AccountKey=" + AzureStorageAccount.DevelopmentAccountKey + ";BlobEndpoint=http://127.0.0.1:4321/devstoreaccount1;");
        Assert.Equal("http://127.0.0.1:4321/devstoreaccount1", explicitEndpoint.BlobEndpoint.AbsoluteUri);

        var sas = AzureStorageAccount.FromConnectionString("AccountName=myacct;SharedAccessSignature=sv=2021-12-02&sr=c&sp=r&sig=abc%3D");
        Assert.True(sas.UsesSas);
    }

    [Theory]
    [InlineData("AccountKey=abc", "AccountName")]
    [InlineData("AccountName=myacct", "AccountKey or SharedAccessSignature")]
    [InlineData("AccountName=myacct;AccountKey=not base64!", "base64")]
    [InlineData("AccountName=myacct;garbage", "Key=Value")]
    [InlineData("AccountName=MyAcct;AccountKey=abcd", "account name")]
    public void ConnectionStrings_Malformed_NameTheProblem_NeverTheKey(string connectionString, string expected)
    {
        var e = Assert.Throws<BlobStoreConfigurationException>(
            () => AzureStorageAccount.FromConnectionString(connectionString, "AZURE_STORAGE_CONNECTION_STRING"));
        Assert.StartsWith("AZURE_STORAGE_CONNECTION_STRING", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("abcd", e.Message);
    }

    [Fact]
    public void ServiceSas_HasTheExpectedFields()
    {
        var account = AzureStorageAccount.DevelopmentStorage();
        var token = account.CreateServiceSas("runs", null, "racwdl", new DateTimeOffset(2026, 6, 1, 13, 0, 0, TimeSpan.Zero));
        var fields = token.Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => Uri.UnescapeDataString(p[1]));
        Assert.Equal("2021-12-02", fields["sv"]);
        Assert.Equal("c", fields["sr"]);
        Assert.Equal("racwdl", fields["sp"]);
        Assert.Equal("2026-06-01T13:00:00Z", fields["se"]);
        Assert.Equal(32, Convert.FromBase64String(fields["sig"]).Length);
    }

    [Fact]
    public void Open_UrlsAndConnectionStrings_ResolveAccountContainerPrefixAndCredentials()
    {
        var env = new Dictionary<string, string> { ["AZURE_STORAGE_KEY"] = AzureStorageAccount.DevelopmentAccountKey };
        var options = new BlobStoreOpenOptions { GetEnvironmentVariable = env.GetValueOrDefault };

        using var hosted = BlobStores.Open("https://myacct.blob.core.windows.net/runs/nightly/2026", options);
        var prefixed = Assert.IsType<PrefixedBlobStore>(hosted);
        var azure = Assert.IsType<AzureBlobStore>(prefixed.Inner);
        Assert.Equal("myacct", azure.Account.Name);
        Assert.Equal("runs", azure.Container);
        Assert.Equal("nightly/2026/", prefixed.Prefix);
        Assert.Equal("https://myacct.blob.core.windows.net/runs/nightly/2026", hosted.DisplayUri);
        Assert.Equal("AZURE_STORAGE_KEY", azure.Account.CredentialSource);

        using var pathStyle = BlobStores.Open("http://127.0.0.1:10000/devstoreaccount1/runs", options);
        var emulator = Assert.IsType<AzureBlobStore>(pathStyle);
        Assert.Equal("devstoreaccount1", emulator.Account.Name);
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1/runs", emulator.DisplayUri);

        using var withSas = BlobStores.Open("https://myacct.blob.core.windows.net/runs?sv=2021-12-02&sr=c&sp=rl&sig=SECRETSIG", options);
        Assert.DoesNotContain("SECRETSIG", withSas.DisplayUri);
        Assert.True(Assert.IsType<AzureBlobStore>(withSas).Account.UsesSas);

        using var fromConnection = BlobStores.Open("UseDevelopmentStorage=true;Container=runs;Prefix=a/b");
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1/runs/a/b", fromConnection.DisplayUri);
        using var defaultContainer = BlobStores.Open("UseDevelopmentStorage=true", new BlobStoreOpenOptions { Prefix = "p" });
        Assert.Equal($"http://127.0.0.1:10000/devstoreaccount1/{BlobStores.DefaultContainer}/p", defaultContainer.DisplayUri);
    }

    [Fact]
    public void Open_WithoutCredentials_OrMalformed_NamesTheSetting()
    {
        var none = new BlobStoreOpenOptions { GetEnvironmentVariable = _ => null };
        var missing = Assert.Throws<BlobStoreConfigurationException>(() => BlobStores.Open("https://myacct.blob.core.windows.net/runs", none));
        Assert.Equal("AZURE_STORAGE_KEY", missing.Setting);
        Assert.Contains("AZURE_STORAGE_SAS_TOKEN", missing.Message);
        Assert.Equal("store", Assert.Throws<BlobStoreConfigurationException>(() => BlobStores.Open("https://myacct.blob.core.windows.net/", none)).Setting);
        Assert.Equal("store", Assert.Throws<BlobStoreConfigurationException>(() => BlobStores.Open("  ", none)).Setting);
        Assert.Equal("container", Assert.Throws<BlobStoreConfigurationException>(
            () => BlobStores.Open("UseDevelopmentStorage=true;Container=Bad_Name", none)).Setting);
        var fromEnv = new BlobStoreOpenOptions
        {
            GetEnvironmentVariable = name => name == "AZURE_STORAGE_CONNECTION_STRING"
                ? "AccountName=myacct;AccountKey=" + AzureStorageAccount.DevelopmentAccountKey : null,
        };
        using var store = BlobStores.Open("https://myacct.blob.core.windows.net/runs", fromEnv);
        Assert.Contains("AZURE_STORAGE_CONNECTION_STRING", Assert.IsType<AzureBlobStore>(store).Account.CredentialSource);
    }

    [Fact]
    public async Task Open_LocalPathsAndFileUris_WithPrefix()
    {
        var root = Directory.CreateTempSubdirectory("open-").FullName;
        try
        {
            using var plain = BlobStores.Open(root);
            Assert.IsType<LocalFolderStore>(plain);
            using var scoped = BlobStores.Open(new Uri(root).AbsoluteUri, new BlobStoreOpenOptions { Prefix = "runs/x" });
            await scoped.WriteBytesAsync("a/b.txt", "hi"u8.ToArray());
            Assert.True(File.Exists(Path.Combine(root, "runs", "x", "a", "b.txt")));
            Assert.Equal(["runs/x/a/b.txt"], (await plain.ListPageAsync("")).Blobs.Select(b => b.Path));
            Assert.Equal(["a/b.txt"], (await scoped.ListPageAsync("")).Blobs.Select(b => b.Path));
            Assert.Equal(["a/"], (await scoped.ListPageAsync("", "/")).Prefixes);
            Assert.Equal("a/b.txt", (await scoped.GetPropertiesAsync("a/b.txt"))!.Path);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
