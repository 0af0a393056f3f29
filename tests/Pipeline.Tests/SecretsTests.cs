using System.Text;
using Dreamer.Storage;
using Dreamer.Storage.Azure;
using Dreamer.Storage.Emulator;

namespace Dreamer.Pipeline.Tests;

/// <summary>
/// Account keys and SAS signatures come from configuration or the environment and must never appear in
/// logs, manifests, lineage events or checkpoints: a real run against Azurite, then every output searched.
/// </summary>
public class SecretsTests
{
    private static async Task<string> EverythingStoredAsync(IBlobStore store)
    {
        var all = new StringBuilder();
        await foreach (var blob in store.ListAllAsync(""))
        {
            all.AppendLine(blob.Path);
            all.AppendLine(Encoding.UTF8.GetString(await store.ReadAllBytesAsync(blob.Path)));
            var props = await store.GetPropertiesAsync(blob.Path);
            foreach (var (k, v) in props!.Metadata) all.AppendLine($"{k}={v}");
        }
        return all.ToString();
    }

    private static void AssertAbsent(string haystack, string secret, string where)
    {
        Assert.False(haystack.Contains(secret, StringComparison.Ordinal), $"the secret appears in {where}");
        var encoded = Uri.EscapeDataString(secret);
        Assert.False(haystack.Contains(encoded, StringComparison.Ordinal), $"the URL-encoded secret appears in {where}");
    }

    [Fact]
    public async Task Keys_and_sas_signatures_never_reach_logs_manifests_or_lineage()
    {
        await using var azurite = await AzuriteProcess.StartAsync();
        var key = AzureStorageAccount.DevelopmentAccountKey;
        const string demo = "--steps";

        // 1. Shared Key from the environment.
        var keyUrl = $"{azurite.BlobEndpoint}/secrets-key/nightly";
        var env = new Dictionary<string, string> { ["AZURE_STORAGE_KEY"] = key };
        var run = await DreamerProcess.RunAsync(env, "smoke", "--store", keyUrl, demo, "4", "--checkpoint-every", "2", "--threads", "1");
        Assert.True(run.ExitCode == 0, run.Stderr);
        using (var store = new AzureBlobStore(azurite.Account, "secrets-key"))
        {
            var stored = await EverythingStoredAsync(store);
            Assert.Contains("_manifest.json", stored);
            Assert.Contains("lineage/events/", stored);
            AssertAbsent(stored, key, "the store (manifests, lineage, checkpoints)");
        }
        AssertAbsent(run.Stdout + run.Stderr, key, "the demo's output");

        // 2. A SAS token in the store URL: its signature must not leak, though the URL itself is an argument.
        using (var admin = new AzureBlobStore(azurite.Account, "secrets-sas"))
            await admin.WriteBytesAsync("claim", new byte[] { 1 }); // creates the container; a container SAS cannot
        var sas = azurite.Account.CreateServiceSas("secrets-sas", null, "racwdl", DateTimeOffset.UtcNow.AddHours(1));
        var signature = Uri.UnescapeDataString(sas.Split('&').Single(p => p.StartsWith("sig=", StringComparison.Ordinal))[4..]);
        var sasRun = await DreamerProcess.RunAsync((IReadOnlyDictionary<string, string>?)null, "smoke", "--store", $"{azurite.BlobEndpoint}/secrets-sas/nightly?{sas}",
            demo, "4", "--checkpoint-every", "2", "--threads", "1");
        Assert.True(sasRun.ExitCode == 0, sasRun.Stderr);
        using (var store = new AzureBlobStore(azurite.Account, "secrets-sas"))
        {
            var stored = await EverythingStoredAsync(store);
            Assert.Contains("_manifest.json", stored);
            AssertAbsent(stored, signature, "the store");
            AssertAbsent(stored, key, "the store");
        }
        AssertAbsent(sasRun.Stdout + sasRun.Stderr, signature, "the demo's output");

        // 3. A wrong key is a setting to fix: exit 2 naming it, and the wrong key is not echoed.
        const string wrongKey = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
        var bad = await DreamerProcess.RunAsync(new Dictionary<string, string> { ["AZURE_STORAGE_KEY"] = wrongKey },
            "smoke", "--store", keyUrl, demo, "2", "--threads", "1");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("AZURE_STORAGE_KEY", bad.Stderr);
        AssertAbsent(bad.Stdout + bad.Stderr, wrongKey, "the failed run's output");
    }
}
