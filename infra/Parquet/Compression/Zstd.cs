using System.Runtime.InteropServices;

namespace Dreamer.Parquet.Compression;

/// <summary>The system libzstd through P/Invoke (no managed zstd package is available here).</summary>
public static unsafe partial class Zstd
{
    private const string Lib = "libzstd.so.1";
    private const ulong ContentSizeUnknown = ulong.MaxValue;
    private const ulong ContentSizeError = ulong.MaxValue - 1;

    [LibraryImport(Lib)] private static partial nuint ZSTD_compressBound(nuint srcSize);
    [LibraryImport(Lib)] private static partial nint ZSTD_createCCtx();
    [LibraryImport(Lib)] private static partial nuint ZSTD_freeCCtx(nint cctx);
    [LibraryImport(Lib)] private static partial nuint ZSTD_compressCCtx(nint cctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int level);
    [LibraryImport(Lib)] private static partial nint ZSTD_createDCtx();
    [LibraryImport(Lib)] private static partial nuint ZSTD_freeDCtx(nint dctx);
    [LibraryImport(Lib)] private static partial nuint ZSTD_decompressDCtx(nint dctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize);
    [LibraryImport(Lib)] private static partial ulong ZSTD_getFrameContentSize(byte* src, nuint srcSize);
    [LibraryImport(Lib)] private static partial uint ZSTD_isError(nuint code);
    [LibraryImport(Lib)] private static partial nint ZSTD_getErrorName(nuint code);
    [LibraryImport(Lib)] private static partial nint ZSTD_createDStream();
    [LibraryImport(Lib)] private static partial nuint ZSTD_freeDStream(nint zds);
    [LibraryImport(Lib)] private static partial nuint ZSTD_decompressStream(nint zds, Buffer* output, Buffer* input);

    // ZSTD_inBuffer and ZSTD_outBuffer share this layout.
    [StructLayout(LayoutKind.Sequential)]
    private struct Buffer { public byte* Ptr; public nuint Size; public nuint Pos; }

    // One compression context per thread, freed with the thread (contexts are costly to create per page).
    private sealed class ContextHolder
    {
        public readonly nint Handle = ZSTD_createCCtx();
        ~ContextHolder() => ZSTD_freeCCtx(Handle);
    }

    [ThreadStatic] private static ContextHolder? t_context;

    private sealed class DecompressionContextHolder
    {
        public readonly nint Handle = ZSTD_createDCtx();
        ~DecompressionContextHolder() => ZSTD_freeDCtx(Handle);
    }

    // Decompression contexts are reused too: ZSTD_decompress would set one up (and free it) for every page.
    [ThreadStatic] private static DecompressionContextHolder? t_dcontext;

    public static int MaxCompressedLength(int sourceLength) => checked((int)ZSTD_compressBound((nuint)sourceLength));

    private static string ErrorName(nuint code) => Marshal.PtrToStringUTF8(ZSTD_getErrorName(code)) ?? "unknown zstd error";

    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int level)
    {
        var ctx = t_context ??= new ContextHolder();
        fixed (byte* s = source)
        fixed (byte* d = destination)
        {
            nuint r = ZSTD_compressCCtx(ctx.Handle, d, (nuint)destination.Length, s, (nuint)source.Length, level);
            if (ZSTD_isError(r) != 0) throw new InvalidOperationException("zstd compression failed: " + ErrorName(r));
            GC.KeepAlive(ctx);
            return (int)r;
        }
    }

    /// <summary>Decompresses into destination, which must be exactly the uncompressed size.</summary>
    public static void Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        fixed (byte* s = source)
        fixed (byte* d = destination)
        {
            ulong size = ZSTD_getFrameContentSize(s, (nuint)source.Length);
            if (size == ContentSizeError) throw new InvalidDataException("zstd: not a zstd frame");
            if (size != ContentSizeUnknown)
            {
                if (size > (ulong)destination.Length)
                    throw new InvalidDataException($"zstd: frame holds {size} bytes, page header says {destination.Length}");
                var ctx = t_dcontext ??= new DecompressionContextHolder();
                if (ctx.Handle == 0) throw new OutOfMemoryException("ZSTD_createDCtx failed");
                nuint r = ZSTD_decompressDCtx(ctx.Handle, d, (nuint)destination.Length, s, (nuint)source.Length);
                GC.KeepAlive(ctx);
                if (ZSTD_isError(r) != 0) throw new InvalidDataException("zstd: " + ErrorName(r));
                if (r != (nuint)destination.Length)
                    throw new InvalidDataException($"zstd: produced {r} bytes, expected {destination.Length}");
                return;
            }
            DecompressStreaming(s, source.Length, d, destination.Length);
        }
    }

    // Frames written without a content size: stream into the fixed buffer and insist it ends exactly full.
    private static void DecompressStreaming(byte* src, int srcLength, byte* dst, int dstLength)
    {
        nint zds = ZSTD_createDStream();
        if (zds == 0) throw new OutOfMemoryException("ZSTD_createDStream failed");
        try
        {
            var input = new Buffer { Ptr = src, Size = (nuint)srcLength };
            var output = new Buffer { Ptr = dst, Size = (nuint)dstLength };
            while (input.Pos < input.Size)
            {
                nuint before = input.Pos, produced = output.Pos;
                nuint r = ZSTD_decompressStream(zds, &output, &input);
                if (ZSTD_isError(r) != 0) throw new InvalidDataException("zstd: " + ErrorName(r));
                if (input.Pos == before && output.Pos == produced)
                    throw new InvalidDataException($"zstd: data does not fit the {dstLength} bytes the page header promises");
            }
            if (output.Pos != (nuint)dstLength)
                throw new InvalidDataException($"zstd: produced {output.Pos} bytes, expected {dstLength}");
        }
        finally { ZSTD_freeDStream(zds); }
    }
}
