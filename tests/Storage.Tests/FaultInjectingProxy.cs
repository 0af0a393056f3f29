using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Dreamer.Storage.Tests;

/// <summary>
/// A loopback HTTP/1.1 proxy in front of Azurite that fails a seeded fraction of requests: it answers 503,
/// resets the connection before forwarding, forwards and then resets (the request lands, the response is
/// lost), or stalls past the client's per-attempt timeout. It forces one request per connection
/// (Connection: close) so each request can be judged on its own; request bodies must carry Content-Length.
/// </summary>
public sealed class FaultInjectingProxy : IAsyncDisposable
{
    public enum Fate { Forward, Answer503, ResetBeforeForward, ResetAfterForward, Stall }

    public sealed record RequestHead(string Method, string Target, IReadOnlyDictionary<string, string> Headers);

    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly int _upstreamPort;
    readonly double _failureRate;
    readonly Random _random;
    readonly TimeSpan _stall;
    readonly CancellationTokenSource _stop = new();
    readonly Task _acceptLoop;
    readonly int[] _counts = new int[Enum.GetValues<Fate>().Length];
    Func<RequestHead, bool>? _dropResponseOnce;

    public FaultInjectingProxy(int upstreamPort, double failureRate, int seed, TimeSpan stall)
    {
        _upstreamPort = upstreamPort;
        _failureRate = failureRate;
        _random = new Random(seed);
        _stall = stall;
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Count(Fate fate) => Volatile.Read(ref _counts[(int)fate]);

    public int Requests => _counts.Sum();

    public int Failed => Requests - Count(Fate.Forward);

    /// <summary>The next request matching the predicate is forwarded and its response dropped (a reset instead).</summary>
    public void DropResponseOnce(Func<RequestHead, bool> match) => Volatile.Write(ref _dropResponseOnce, match);

    public override string ToString() =>
        $"{Requests} requests: {Count(Fate.Forward)} forwarded, {Count(Fate.Answer503)} × 503, " +
        $"{Count(Fate.ResetBeforeForward)} reset before forwarding, {Count(Fate.ResetAfterForward)} reset after forwarding " +
        $"(response lost), {Count(Fate.Stall)} stalled";

    async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    Fate Choose(RequestHead head)
    {
        var drop = _dropResponseOnce;
        if (drop != null && drop(head) && Interlocked.CompareExchange(ref _dropResponseOnce, null, drop) == drop)
            return Fate.ResetAfterForward;
        lock (_random)
        {
            if (_random.NextDouble() >= _failureRate) return Fate.Forward;
            return _random.Next(5) switch
            {
                0 or 1 => Fate.Answer503,
                2 => Fate.ResetBeforeForward,
                3 => Fate.ResetAfterForward,
                _ => Fate.Stall,
            };
        }
    }

    async Task HandleAsync(TcpClient client)
    {
        using var _ = client;
        var ct = _stop.Token;
        try
        {
            var downstream = client.GetStream();
            var (headBytes, leftover) = await ReadHeadAsync(downstream, ct);
            if (headBytes == null) return;
            var head = ParseHead(headBytes);
            var bodyLength = long.Parse(head.Headers.GetValueOrDefault("content-length", "0"));
            var fate = Choose(head);
            Interlocked.Increment(ref _counts[(int)fate]);
            switch (fate)
            {
                case Fate.Answer503:
                    await DrainAsync(downstream, bodyLength - leftover.Length, ct);
                    await downstream.WriteAsync(Encoding.ASCII.GetBytes(
                        "HTTP/1.1 503 Service Unavailable\r\nx-ms-error-code: ServerBusy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), ct);
                    return;
                case Fate.ResetBeforeForward:
                    Reset(client);
                    return;
                case Fate.Stall:
                    await Task.Delay(_stall, ct);
                    Reset(client);
                    return;
            }

            using var upstreamClient = new TcpClient();
            await upstreamClient.ConnectAsync(IPAddress.Loopback, _upstreamPort, ct);
            var upstream = upstreamClient.GetStream();
            await upstream.WriteAsync(RewriteHead(headBytes), ct);
            await upstream.WriteAsync(leftover, ct);
            await CopyExactlyAsync(downstream, upstream, bodyLength - leftover.Length, ct);
            if (fate == Fate.ResetAfterForward)
            {
                await upstream.CopyToAsync(Stream.Null, ct); // let the request complete upstream, then lose the answer
                Reset(client);
                return;
            }
            await upstream.CopyToAsync(downstream, ct);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client gave up (timeout) or we are shutting down.
        }
    }

    static void Reset(TcpClient client)
    {
        client.Client.LingerState = new LingerOption(true, 0); // close with RST, not FIN
        client.Close();
    }

    static async Task<(byte[]? Head, byte[] Leftover)> ReadHeadAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var n = await stream.ReadAsync(chunk, ct);
            if (n == 0) return (null, []);
            buffer.Write(chunk, 0, n);
            var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
            var end = bytes.IndexOf("\r\n\r\n"u8);
            if (end >= 0) return (bytes[..(end + 4)].ToArray(), bytes[(end + 4)..].ToArray());
            if (buffer.Length > 1 << 20) throw new IOException("request head too large");
        }
    }

    static RequestHead ParseHead(byte[] head)
    {
        var lines = Encoding.ASCII.GetString(head).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }
        if (headers.ContainsKey("transfer-encoding")) throw new IOException("chunked request bodies are not supported by this proxy");
        return new RequestHead(requestLine[0], requestLine[1], headers);
    }

    /// <summary>Same head with "Connection: close", so upstream ends the response by closing.</summary>
    static byte[] RewriteHead(byte[] head)
    {
        var lines = Encoding.ASCII.GetString(head).Split("\r\n").Where(l => l.Length > 0)
            .Where(l => !l.StartsWith("connection:", StringComparison.OrdinalIgnoreCase) && !l.StartsWith("keep-alive:", StringComparison.OrdinalIgnoreCase));
        return Encoding.ASCII.GetBytes(string.Join("\r\n", lines) + "\r\nConnection: close\r\n\r\n");
    }

    static async Task CopyExactlyAsync(Stream from, Stream to, long count, CancellationToken ct)
    {
        var buffer = new byte[256 * 1024];
        while (count > 0)
        {
            var n = await from.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), ct);
            if (n == 0) throw new IOException("client closed mid-body");
            await to.WriteAsync(buffer.AsMemory(0, n), ct);
            count -= n;
        }
    }

    static Task DrainAsync(Stream from, long count, CancellationToken ct) => CopyExactlyAsync(from, Stream.Null, count, ct);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        _stop.Dispose();
    }
}
