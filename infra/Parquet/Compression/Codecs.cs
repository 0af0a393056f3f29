using System.Buffers;
using System.IO.Compression;

namespace Dreamer.Parquet.Compression;

/// <summary>Page compression for the codecs this library supports, behind one dispatch point.</summary>
internal static class Codecs
{
    public static bool IsSupported(CompressionCodec codec) =>
        codec is CompressionCodec.Uncompressed or CompressionCodec.Snappy or CompressionCodec.Gzip or CompressionCodec.Zstd;

    /// <summary>Compresses into a buffer rented from the shared pool; the caller returns it.</summary>
    public static byte[] Compress(CompressionCodec codec, ReadOnlySpan<byte> src, int zstdLevel, out int length)
    {
        switch (codec)
        {
            case CompressionCodec.Uncompressed:
                {
                    var buf = ArrayPool<byte>.Shared.Rent(Math.Max(1, src.Length));
                    src.CopyTo(buf);
                    length = src.Length;
                    return buf;
                }
            case CompressionCodec.Snappy:
                {
                    var buf = ArrayPool<byte>.Shared.Rent(Snappy.MaxCompressedLength(src.Length));
                    length = Snappy.Compress(src, buf);
                    return buf;
                }
            case CompressionCodec.Zstd:
                {
                    var buf = ArrayPool<byte>.Shared.Rent(Zstd.MaxCompressedLength(src.Length));
                    length = Zstd.Compress(src, buf, zstdLevel);
                    return buf;
                }
            case CompressionCodec.Gzip:
                {
                    using var ms = new MemoryStream();
                    using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(src);
                    length = (int)ms.Length;
                    var buf = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                    ms.GetBuffer().AsSpan(0, length).CopyTo(buf);
                    return buf;
                }
            default:
                throw new NotSupportedException($"compression codec {codec} is not supported for writing");
        }
    }

    /// <summary>
    /// Decompresses into dst, which has exactly the size the page header promises; any other
    /// size is an <see cref="InvalidDataException"/>, which the caller turns into a located format error.
    /// </summary>
    public static void Decompress(CompressionCodec codec, ReadOnlySpan<byte> src, Span<byte> dst)
    {
        switch (codec)
        {
            case CompressionCodec.Uncompressed:
                if (src.Length != dst.Length) throw new InvalidDataException($"uncompressed page has {src.Length} bytes, header says {dst.Length}");
                src.CopyTo(dst);
                return;
            case CompressionCodec.Snappy:
                Snappy.Decompress(src, dst);
                return;
            case CompressionCodec.Zstd:
                Zstd.Decompress(src, dst);
                return;
            case CompressionCodec.Gzip:
                GzipDecompress(src, dst);
                return;
            default:
                throw new InvalidDataException($"compression codec {codec} is not supported");
        }
    }

    // GZipStream reads concatenated members one after another, which some writers emit.
    private static unsafe void GzipDecompress(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        fixed (byte* p = src)
        {
            using var input = new UnmanagedMemoryStream(p, src.Length);
            using var gz = new GZipStream(input, CompressionMode.Decompress);
            int done = 0;
            while (done < dst.Length)
            {
                int n = gz.Read(dst[done..]);
                if (n == 0) throw new InvalidDataException($"gzip: produced {done} bytes, expected {dst.Length}");
                done += n;
            }
            Span<byte> probe = stackalloc byte[1];
            if (gz.Read(probe) != 0) throw new InvalidDataException($"gzip: data exceeds the {dst.Length} bytes the page header promises");
        }
    }
}
