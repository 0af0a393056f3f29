using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Dreamer.Storage.Azure;

/// <summary>One Blob REST call, described independently of HttpClient so every retry builds and signs a fresh message.</summary>
internal sealed class AzureRequest(HttpMethod method, string operation, string container, string? blob = null)
{
    public HttpMethod Method { get; } = method;
    /// <summary>Operation name for logs and errors ("Put Block").</summary>
    public string Operation { get; } = operation;
    public string Container { get; } = container;
    /// <summary>Blob name, not encoded; null for container operations.</summary>
    public string? Blob { get; } = blob;
    public List<KeyValuePair<string, string>> Query { get; } = [];
    /// <summary>Request headers, x-ms-* and standard ones (If-Match, Content-Type, Content-MD5...).</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>The whole body, held in memory so any attempt can resend it.</summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    public AzureRequest With(string name, string? value)
    {
        if (value != null) Headers[name] = value;
        return this;
    }

    public AzureRequest WithQuery(string name, string? value)
    {
        // An empty parameter would be signed as "\nname:" and is never needed: leave it out.
        if (!string.IsNullOrEmpty(value)) Query.Add(new(name, value));
        return this;
    }

    public string Target => Blob == null ? Container : $"{Container}/{Blob}";
}

internal sealed class AzureResponse(int status, Dictionary<string, string> headers, byte[] body, int bodyLength, int attempts)
{
    public int Status { get; } = status;
    public Dictionary<string, string> Headers { get; } = headers;
    /// <summary>The body when it was not read into a caller's buffer.</summary>
    public byte[] Body { get; } = body;
    public int BodyLength { get; } = bodyLength;
    /// <summary>How many attempts it took; above 1 an earlier attempt may have landed without us seeing the answer.</summary>
    public int Attempts { get; } = attempts;
    public string? ErrorCode => Headers.GetValueOrDefault("x-ms-error-code");
    public string? Header(string name) => Headers.GetValueOrDefault(name);
}

/// <summary>Counters of one store's HTTP traffic, for tests and benchmark notes.</summary>
public sealed class AzureStoreStatistics
{
    long _attempts, _retries;
    public long Attempts => Interlocked.Read(ref _attempts);
    public long Retries => Interlocked.Read(ref _retries);
    internal void CountAttempt() => Interlocked.Increment(ref _attempts);
    internal void CountRetry() => Interlocked.Increment(ref _retries);
}

/// <summary>A retryable status, raised inside an attempt so Polly sees it as a failure.</summary>
internal sealed class TransientResponseException(int status, string? errorCode, TimeSpan? retryAfter)
    : Exception($"HTTP {status} {errorCode}")
{
    public int Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>
/// Signs, sends and retries Blob REST requests. Each attempt (send and read of the whole response) runs under
/// a per-attempt timeout inside an exponential-backoff retry; only network failures, timeouts and
/// 408/429/500/502/503/504 are retried, never an answer the service meant (400/403/404/409/412/416).
/// </summary>
internal sealed class AzureBlobClient : IDisposable
{
    readonly AzureStorageAccount _account;
    readonly HttpClient _http;
    readonly ResiliencePipeline _pipeline;
    readonly ILogger? _logger;

    public AzureBlobClient(AzureStorageAccount account, AzureBlobStoreOptions options)
    {
        _account = account;
        _logger = options.Logger;
        _http = new HttpClient(new SocketsHttpHandler
        {
            // Azurite (Node) drops idle keep-alive connections after 5 s; reusing one it just closed costs a retry.
            PooledConnectionIdleTimeout = options.PooledConnectionIdleTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(15),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            MaxConnectionsPerServer = 256,
        })
        {
            // Polly's per-attempt timeout governs; HttpClient's own would surface as an unretried cancellation.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e
                                                            && IsTransient(e, args.Context.CancellationToken)),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is TransientResponseException { RetryAfter: { } after }
                        ? (TimeSpan?)TimeSpan.FromTicks(Math.Min(after.Ticks, options.RetryMaxDelay.Ticks))
                        : null),
                OnRetry = args =>
                {
                    Statistics.CountRetry();
                    _logger?.LogWarning("Azure Blob {Operation} attempt {Attempt} failed ({Reason}); retrying in {Delay} ms",
                        args.Context.OperationKey, args.AttemptNumber + 1, Describe(args.Outcome.Exception), (int)args.RetryDelay.TotalMilliseconds);
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(options.AttemptTimeout)
            .Build();
    }

    public AzureStoreStatistics Statistics { get; } = new();

    public void Dispose() => _http.Dispose();

    static bool IsTransient(Exception e, CancellationToken callerToken) => e switch
    {
        TransientResponseException or TimeoutRejectedException or HttpRequestException or IOException => true,
        // Not the caller cancelling: a socket-level cancellation inside the attempt.
        OperationCanceledException => !callerToken.IsCancellationRequested,
        _ => false,
    };

    static string Describe(Exception? e) => e switch
    {
        null => "no exception",
        TransientResponseException t => t.Message,
        TimeoutRejectedException => "attempt timed out",
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    /// <summary>
    /// Sends with retries. A 2xx body goes into `into` when given (a download chunk), else into Response.Body.
    /// Throws BlobStoreException once retries are exhausted; every other status is returned for the caller to map.
    /// </summary>
    public async Task<AzureResponse> SendAsync(AzureRequest request, Memory<byte>? into, CancellationToken ct)
    {
        var attempts = 0;
        var context = ResilienceContextPool.Shared.Get(request.Operation, ct);
        try
        {
            return await _pipeline.ExecuteAsync(async (ctx, _) =>
            {
                attempts++;
                Statistics.CountAttempt();
                return await SendOnceAsync(request, into, attempts, ctx.CancellationToken).ConfigureAwait(false);
            }, context, 0).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransient(e, ct))
        {
            throw new BlobStoreException(
                $"{request.Operation} {_account.BlobEndpoint}/{request.Target} failed after {attempts} attempts: {Describe(e)}", e);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    async Task<AzureResponse> SendOnceAsync(AzureRequest request, Memory<byte>? into, int attempt, CancellationToken ct)
    {
        using var message = BuildMessage(request);
        using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
            headers[name] = string.Join(",", values);
        if (status is 408 or 429 or 500 or 502 or 503 or 504)
            throw new TransientResponseException(status, headers.GetValueOrDefault("x-ms-error-code"),
                response.Headers.RetryAfter?.Delta);

        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        if (into is { } destination && status is >= 200 and < 300)
        {
            var length = await ReadFullyAsync(body, destination, ct).ConfigureAwait(false);
            return new AzureResponse(status, headers, [], length, attempt);
        }
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer, ct).ConfigureAwait(false);
        return new AzureResponse(status, headers, buffer.ToArray(), (int)buffer.Length, attempt);
    }

    HttpRequestMessage BuildMessage(AzureRequest request)
    {
        var url = new StringBuilder(_account.BlobEndpoint.AbsoluteUri.TrimEnd('/')).Append('/').Append(request.Container);
        if (request.Blob != null)
            url.Append('/').Append(string.Join('/', request.Blob.Split('/').Select(Uri.EscapeDataString)));
        var separator = '?';
        foreach (var (name, value) in request.Query)
        {
            url.Append(separator).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }
        if (_account.SasToken != null) url.Append(separator).Append(_account.SasToken);

        var message = new HttpRequestMessage(request.Method, url.ToString());
        var signed = new Dictionary<string, string>(request.Headers, StringComparer.OrdinalIgnoreCase)
        {
            ["x-ms-version"] = AzureStorageAccount.ServiceVersion,
            ["x-ms-date"] = DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture),
        };
        // Azure wants a Content-Length on every PUT, even an empty one.
        if (request.Method == HttpMethod.Put || !request.Body.IsEmpty)
        {
            message.Content = new ReadOnlyMemoryContent(request.Body);
            signed["Content-Length"] = request.Body.Length.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var (name, value) in signed)
        {
            if (name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
            {
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
                message.Content!.Headers.TryAddWithoutValidation(name, value);
            }
            else message.Headers.TryAddWithoutValidation(name, value);
        }
        if (_account.Key != null)
        {
            var stringToSign = SharedKeySigner.StringToSign(request.Method.Method, signed, _account.Name,
                message.RequestUri!.AbsolutePath, request.Query);
            message.Headers.TryAddWithoutValidation("Authorization", SharedKeySigner.Authorization(_account.Name, _account.Key, stringToSign));
        }
        return message;
    }

    /// <summary>Reads until the buffer is full or the stream ends; returns the count.</summary>
    internal static async Task<int> ReadFullyAsync(Stream stream, Memory<byte> buffer, CancellationToken ct)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer[total..], ct).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
