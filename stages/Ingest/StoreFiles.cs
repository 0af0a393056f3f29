using System.Security.Cryptography;
using Dreamer.Parquet.IO;
using Dreamer.Storage;

namespace Dreamer.Stages.Ingest;

/// <summary>Positional reads of a blob, so the Parquet reader fetches only a part's footer to check it.</summary>
internal sealed class BlobRandomAccessSource(IBlobStore store, string path, long length) : IRandomAccessSource
{
    public long Length => length;

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default) =>
        offset >= length ? 0 : await store.ReadRangeAsync(path, offset, buffer, ct).ConfigureAwait(false);

    public void Dispose() { }
}

/// <summary>A source video as a local file for ffmpeg: the file itself on a local store, else a verified download.</summary>
internal sealed class LocalVideo : IAsyncDisposable
{
    readonly bool _temporary;

    LocalVideo(string path, bool temporary)
    {
        Path = path;
        _temporary = temporary;
    }

    public string Path { get; }

    /// <summary>
    /// ffmpeg needs a seekable file (an .mp4 may keep its index at the end), so a blob on a remote store is
    /// downloaded first; its hash is checked against the one the artifact id was computed from.
    /// </summary>
    public static async Task<LocalVideo> OpenAsync(IBlobStore store, SourceFile source, string tempDirectory, CancellationToken ct)
    {
        if (StoreFiles.LocalPath(store, source.Path) is { } local)
        {
            var length = new FileInfo(local).Length;
            if (length != source.Bytes)
                throw new IOException($"{source.Path} changed while ingesting ({source.Bytes} bytes when listed, {length} now); raw data must not change under a run");
            return new LocalVideo(local, temporary: false);
        }
        var temp = System.IO.Path.Combine(tempDirectory, $"{Guid.NewGuid():N}{System.IO.Path.GetExtension(source.Path)}");
        try
        {
            string sha;
            await using (var input = await store.OpenReadAsync(source.Path, 0, null, ct).ConfigureAwait(false))
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                sha = await StoreFiles.CopyAndHashAsync(input, output, ct).ConfigureAwait(false);
            if (sha != source.Sha256)
                throw new IOException($"{source.Path} changed while ingesting (sha256 {source.Sha256} when listed, {sha} now); raw data must not change under a run");
            return new LocalVideo(temp, temporary: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_temporary) File.Delete(Path);
        return ValueTask.CompletedTask;
    }
}

internal static class StoreFiles
{
    /// <summary>The plain file behind a blob of a local folder store (DESIGN: blob "a/b" is the file root/a/b), else null.</summary>
    public static string? LocalPath(IBlobStore store, string path)
    {
        var (inner, prefix) = store is PrefixedBlobStore scoped ? (scoped.Inner, scoped.Prefix) : (store, "");
        if (inner is not LocalFolderStore local) return null;
        var segments = (prefix + path).Split('/', StringSplitOptions.RemoveEmptyEntries);
        return System.IO.Path.Combine([local.RootPath, .. segments]);
    }

    public static async Task<string> HashAsync(IBlobStore store, string path, CancellationToken ct)
    {
        await using var input = await store.OpenReadAsync(path, 0, null, ct).ConfigureAwait(false);
        return await CopyAndHashAsync(input, Stream.Null, ct).ConfigureAwait(false);
    }

    /// <summary>Copies input to output and returns the SHA-256 (lowercase hex) of what passed.</summary>
    public static async Task<string> CopyAndHashAsync(Stream input, Stream output, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        int n;
        while ((n = await input.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
