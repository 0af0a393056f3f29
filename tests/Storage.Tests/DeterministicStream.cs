using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Dreamer.Storage.Tests;

/// <summary>
/// A read-only stream of pseudo-random bytes where byte i depends only on (seed, i), so any range can be
/// regenerated to check a download without ever holding the whole blob in memory.
/// </summary>
public sealed class DeterministicStream : Stream
{
    readonly ulong _seed;
    readonly long _start, _end;
    long _position;

    public DeterministicStream(ulong seed, long length, long start = 0)
    {
        (_seed, _start, _end, _position) = (seed, start, start + length, start);
    }

    public static byte[] Bytes(ulong seed, int length)
    {
        var bytes = new byte[length];
        Fill(seed, 0, bytes);
        return bytes;
    }

    /// <summary>SHA-256 of [start, start+length) of the sequence.</summary>
    public static byte[] Sha256(ulong seed, long start, long length)
    {
        using var stream = new DeterministicStream(seed, length, start);
        return SHA256.HashData(stream);
    }

    static void Fill(ulong seed, long position, Span<byte> destination)
    {
        Span<byte> word = stackalloc byte[8];
        var i = 0;
        while (i < destination.Length)
        {
            var index = (position + i) >> 3;
            BinaryPrimitives.WriteUInt64LittleEndian(word, SplitMix(seed ^ (ulong)index * 0x9E3779B97F4A7C15));
            var from = (int)((position + i) & 7);
            var n = Math.Min(8 - from, destination.Length - i);
            word.Slice(from, n).CopyTo(destination[i..]);
            i += n;
        }
    }

    static ulong SplitMix(ulong z)
    {
        z += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, _end - _position);
        Fill(_seed, _position, buffer[..n]);
        _position += n;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => new(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct)
        => Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _end - _start;
    public override long Position { get => _position - _start; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
