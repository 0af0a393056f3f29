using System.Buffers.Binary;
using System.Numerics;

namespace Dreamer.Parquet.Compression;

/// <summary>
/// Snappy raw format (no framing), as Parquet uses it: a varint uncompressed length, then
/// literal and copy elements. The compressor is the classic greedy single-hash-probe design,
/// working in 64 KiB blocks so that every copy offset fits two bytes.
/// </summary>
public static class Snappy
{
    private const int BlockSize = 1 << 16;
    private const int HashBits = 14;

    public static int MaxCompressedLength(int sourceLength) => 32 + sourceLength + sourceLength / 6;

    /// <summary>Compresses source into destination (at least MaxCompressedLength bytes); returns the bytes written.</summary>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int op = WriteVarint(destination, (uint)source.Length);
        Span<int> table = stackalloc int[1 << HashBits];
        for (int blockStart = 0; blockStart < source.Length; blockStart += BlockSize)
        {
            var block = source.Slice(blockStart, Math.Min(BlockSize, source.Length - blockStart));
            op += CompressBlock(block, destination[op..], table);
        }
        return op;
    }

    private static int CompressBlock(ReadOnlySpan<byte> src, Span<byte> dst, Span<int> table)
    {
        int op = 0, nextEmit = 0, ip = 0;
        // The last 4 bytes cannot start a match that we could verify with a 4-byte load.
        int limit = src.Length - 4;
        if (limit > 0)
        {
            table.Fill(-1);
            int skip = 32;
            while (ip <= limit)
            {
                uint cur = BinaryPrimitives.ReadUInt32LittleEndian(src[ip..]);
                int h = (int)((cur * 0x1E35A7BDu) >> (32 - HashBits));
                int candidate = table[h];
                table[h] = ip;
                if (candidate >= 0 && BinaryPrimitives.ReadUInt32LittleEndian(src[candidate..]) == cur)
                {
                    op += EmitLiteral(src[nextEmit..ip], dst[op..]);
                    int len = 4 + CommonPrefix(src[(candidate + 4)..], src[(ip + 4)..]);
                    op += EmitCopy(ip - candidate, len, dst[op..]);
                    ip += len;
                    nextEmit = ip;
                    skip = 32;
                    if (ip - 1 <= limit)
                    {
                        uint prev = BinaryPrimitives.ReadUInt32LittleEndian(src[(ip - 1)..]);
                        table[(int)((prev * 0x1E35A7BDu) >> (32 - HashBits))] = ip - 1;
                    }
                }
                else
                {
                    // Incompressible data: probe less and less often (the reference's heuristic).
                    ip += skip++ >> 5;
                }
            }
        }
        if (nextEmit < src.Length) op += EmitLiteral(src[nextEmit..], dst[op..]);
        return op;
    }

    private static int CommonPrefix(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i + 8 <= n)
        {
            ulong x = BinaryPrimitives.ReadUInt64LittleEndian(a[i..]) ^ BinaryPrimitives.ReadUInt64LittleEndian(b[i..]);
            if (x != 0) return i + BitOperations.TrailingZeroCount(x) / 8;
            i += 8;
        }
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    private static int EmitLiteral(ReadOnlySpan<byte> lit, Span<byte> dst)
    {
        if (lit.IsEmpty) return 0;
        int n = lit.Length - 1, op;
        if (n < 60) { dst[0] = (byte)(n << 2); op = 1; }
        else if (n < 1 << 8) { dst[0] = 60 << 2; dst[1] = (byte)n; op = 2; }
        else if (n < 1 << 16) { dst[0] = 61 << 2; BinaryPrimitives.WriteUInt16LittleEndian(dst[1..], (ushort)n); op = 3; }
        else if (n < 1 << 24) { dst[0] = 62 << 2; dst[1] = (byte)n; dst[2] = (byte)(n >> 8); dst[3] = (byte)(n >> 16); op = 4; }
        else { dst[0] = 63 << 2; BinaryPrimitives.WriteUInt32LittleEndian(dst[1..], (uint)n); op = 5; }
        lit.CopyTo(dst[op..]);
        return op + lit.Length;
    }

    private static int EmitCopy(int offset, int len, Span<byte> dst)
    {
        int op = 0;
        // Copy-2 elements carry at most 64 bytes; keep the remainder >= 4 so the tail stays encodable.
        while (len >= 68) { op += EmitCopy2(offset, 64, dst[op..]); len -= 64; }
        if (len > 64) { op += EmitCopy2(offset, 60, dst[op..]); len -= 60; }
        if (len <= 11 && offset < 2048)
        {
            dst[op] = (byte)(1 | ((len - 4) << 2) | ((offset >> 8) << 5));
            dst[op + 1] = (byte)offset;
            return op + 2;
        }
        return op + EmitCopy2(offset, len, dst[op..]);
    }

    private static int EmitCopy2(int offset, int len, Span<byte> dst)
    {
        dst[0] = (byte)(2 | ((len - 1) << 2));
        BinaryPrimitives.WriteUInt16LittleEndian(dst[1..], (ushort)offset);
        return 3;
    }

    private static int WriteVarint(Span<byte> dst, uint v)
    {
        int i = 0;
        while (v >= 0x80) { dst[i++] = (byte)(v | 0x80); v >>= 7; }
        dst[i++] = (byte)v;
        return i;
    }

    /// <summary>Reads the uncompressed length from the preamble.</summary>
    public static int GetUncompressedLength(ReadOnlySpan<byte> source, out int headerBytes)
    {
        uint result = 0;
        for (int i = 0; i < 5; i++)
        {
            if (i >= source.Length) throw new InvalidDataException("snappy: truncated length preamble");
            byte b = source[i];
            result |= (uint)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                headerBytes = i + 1;
                if (result > int.MaxValue) throw new InvalidDataException("snappy: length too large");
                return (int)result;
            }
        }
        throw new InvalidDataException("snappy: bad length preamble");
    }

    /// <summary>Decompresses into destination, which must be exactly the uncompressed size.</summary>
    public static void Decompress(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        int expected = GetUncompressedLength(src, out int ip);
        if (expected != dst.Length)
            throw new InvalidDataException($"snappy: stream holds {expected} bytes, page header says {dst.Length}");
        int op = 0;
        while (ip < src.Length)
        {
            byte tag = src[ip++];
            int kind = tag & 3;
            if (kind == 0)
            {
                int len = tag >> 2;
                if (len >= 60)
                {
                    int extra = len - 59;
                    if (ip + extra > src.Length) throw new InvalidDataException("snappy: truncated literal length");
                    len = 0;
                    for (int i = 0; i < extra; i++) len |= src[ip + i] << (8 * i);
                    ip += extra;
                    if (len < 0) throw new InvalidDataException("snappy: literal too long");
                }
                len += 1;
                if (len > src.Length - ip || len > dst.Length - op) throw new InvalidDataException("snappy: literal overruns the input or output");
                src.Slice(ip, len).CopyTo(dst[op..]);
                ip += len;
                op += len;
                continue;
            }
            int length, offset;
            if (kind == 1)
            {
                if (ip >= src.Length) throw new InvalidDataException("snappy: truncated copy");
                length = 4 + ((tag >> 2) & 7);
                offset = ((tag >> 5) << 8) | src[ip++];
            }
            else if (kind == 2)
            {
                if (ip + 2 > src.Length) throw new InvalidDataException("snappy: truncated copy");
                length = 1 + (tag >> 2);
                offset = BinaryPrimitives.ReadUInt16LittleEndian(src[ip..]);
                ip += 2;
            }
            else
            {
                if (ip + 4 > src.Length) throw new InvalidDataException("snappy: truncated copy");
                length = 1 + (tag >> 2);
                offset = BinaryPrimitives.ReadInt32LittleEndian(src[ip..]);
                ip += 4;
            }
            if (offset <= 0 || offset > op) throw new InvalidDataException($"snappy: copy offset {offset} at output position {op}");
            if (length > dst.Length - op) throw new InvalidDataException("snappy: copy overruns the output");
            if (offset >= length) dst.Slice(op - offset, length).CopyTo(dst[op..]);
            else for (int i = 0; i < length; i++) dst[op + i] = dst[op - offset + i]; // overlapping run
            op += length;
        }
        if (op != dst.Length) throw new InvalidDataException($"snappy: produced {op} bytes, expected {dst.Length}");
    }
}
