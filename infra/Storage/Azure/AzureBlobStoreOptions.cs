using Microsoft.Extensions.Logging;

namespace Dreamer.Storage.Azure;

public sealed record AzureBlobStoreOptions
{
    /// <summary>
    /// Blobs up to this size go up in one Put Blob; larger ones as parallel Put Block + Put Block List.
    /// Each in-flight block is buffered (so a retry can resend it): memory ≈ BlockSize × (UploadParallelism + 1).
    /// </summary>
    public int BlockSize { get; init; } = 8 << 20;

    public int UploadParallelism { get; init; } = 4;

    /// <summary>
    /// Also hash the whole blob of a block upload and store it as the blob's Content-MD5 (x-ms-blob-content-md5 on
    /// Put Block List; the service stores it without checking). Off by default, as in the Azure SDKs: every block
    /// already carries a transactional Content-MD5 that the service checks, and this second MD5 pass over every
    /// byte runs serially on the reading thread (it held `bench storage` uploads to about half of curl's speed).
    /// A single Put Blob gets its Content-MD5 from the service either way.
    /// </summary>
    public bool StoreBlobMd5 { get; init; }

    /// <summary>Reads are ranged GETs of this size, DownloadParallelism of them fetched ahead.</summary>
    public int DownloadChunkSize { get; init; } = 8 << 20;

    public int DownloadParallelism { get; init; } = 4;

    /// <summary>Retries after the first attempt (the Azure Storage .NET clients use 5).</summary>
    public int MaxRetries { get; init; } = 5;

    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(400);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Limit for one attempt, including reading its whole response (Azure.Core's NetworkTimeout is 100 s).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(100);

    public TimeSpan PooledConnectionIdleTimeout { get; init; } = TimeSpan.FromSeconds(4);

    public ILogger? Logger { get; init; }

    internal void Validate()
    {
        // A block is one array (< 2 GiB), within Azure's Put Block limit of 4000 MiB (x-ms-version 2019-12-12+).
        if (BlockSize is < 1 || BlockSize > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(BlockSize));
        if (DownloadChunkSize < 1) throw new ArgumentOutOfRangeException(nameof(DownloadChunkSize));
        if (UploadParallelism < 1) throw new ArgumentOutOfRangeException(nameof(UploadParallelism));
        if (DownloadParallelism < 1) throw new ArgumentOutOfRangeException(nameof(DownloadParallelism));
        if (MaxRetries < 0) throw new ArgumentOutOfRangeException(nameof(MaxRetries));
    }
}
