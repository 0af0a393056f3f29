using Dreamer.Parquet.Compression;
using Dreamer.Parquet.Encodings;

namespace Dreamer.Parquet.Tests;

public class CodecTests
{
    public static TheoryData<int, int> Inputs() => new()
    {
        { 0, 0 }, { 1, 1 }, { 15, 2 }, { 100, 3 }, { 65536, 4 }, { 65537, 5 }, { 300_000, 6 },
    };

    private static byte[] Data(int n, int seed)
    {
        // Mixed content: random bytes, long runs and repeated phrases exercise literals and both copy kinds.
        var rnd = new Random(seed);
        var b = new byte[n];
        int i = 0;
        while (i < n)
        {
            int kind = rnd.Next(3), len = Math.Min(n - i, rnd.Next(1, 200));
            if (kind == 0) rnd.NextBytes(b.AsSpan(i, len));
            else if (kind == 1) b.AsSpan(i, len).Fill((byte)rnd.Next(256));
            else for (int k = 0; k < len; k++) b[i + k] = (byte)"the quick brown fox "[k % 20];
            i += len;
        }
        return b;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void SnappyRoundTrips(int n, int seed)
    {
        var input = Data(n, seed);
        var compressed = new byte[Snappy.MaxCompressedLength(n)];
        int len = Snappy.Compress(input, compressed);
        var output = new byte[n];
        Snappy.Decompress(compressed.AsSpan(0, len), output);
        Assert.Equal(input, output);
        if (n > 1000) Assert.True(len < n, "mixed data should compress");
    }

    [Fact]
    public void SnappyDecodesTheReferenceFormat()
    {
        // Hand-assembled: length 9, literal "abc", copy-1 of 4 bytes at offset 3, literal "de" ... "abcabcade"? Build: "abc" + copy(off 3,len 4)="abca" + "de".
        byte[] stream = [9, 2 << 2, (byte)'a', (byte)'b', (byte)'c', 0x01, 0x03, 1 << 2, (byte)'d', (byte)'e'];
        var output = new byte[9];
        Snappy.Decompress(stream, output);
        Assert.Equal("abcabcade"u8.ToArray(), output);
    }

    [Fact]
    public void SnappyRejectsBadOffsets()
    {
        byte[] stream = [4, 0x01, 0x05];
        Assert.Throws<InvalidDataException>(() => Snappy.Decompress(stream, new byte[4]));
    }

    [Fact]
    public void ZstdRoundTrips()
    {
        var input = Data(200_000, 9);
        var compressed = new byte[Zstd.MaxCompressedLength(input.Length)];
        int len = Zstd.Compress(input, compressed, 3);
        var output = new byte[input.Length];
        Zstd.Decompress(compressed.AsSpan(0, len), output);
        Assert.Equal(input, output);
        Assert.Throws<InvalidDataException>(() => Zstd.Decompress(compressed.AsSpan(0, len), new byte[input.Length - 1]));
    }

    [Fact]
    public void ZstdStreamsFramesWithoutAContentSize()
    {
        // A frame written by a streaming compressor has no content size; build one by hand: raw block, no size field.
        // Frame header: magic, descriptor 0x00 (no size, no checksum, window descriptor follows), window 0x48; raw last block of 5 bytes.
        byte[] frame = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x48, 0x29, 0x00, 0x00, (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o'];
        var output = new byte[5];
        Zstd.Decompress(frame, output);
        Assert.Equal("hello"u8.ToArray(), output);
        Assert.Throws<InvalidDataException>(() => Zstd.Decompress(frame, new byte[6]));
        Assert.Throws<InvalidDataException>(() => Zstd.Decompress(frame, new byte[4]));
    }

    [Fact]
    public void RleHybridRoundTrips()
    {
        var rnd = new Random(3);
        foreach (int width in new[] { 0, 1, 2, 5, 8, 13, 20, 31 })
        {
            var values = new int[5000];
            for (int i = 0; i < values.Length;)
            {
                int run = rnd.Next(1, 40), v = width == 0 ? 0 : (int)(rnd.NextInt64(0, 1L << width));
                for (int k = 0; k < run && i < values.Length; k++, i++) values[i] = rnd.Next(4) == 0 && width > 0 ? (int)rnd.NextInt64(0, 1L << width) : v;
            }
            var buf = new ByteBuffer();
            RleHybridEncoder.Encode(values, width, buf);
            var decoded = new int[values.Length];
            var dec = new RleHybridDecoder(buf.WrittenSpan, width);
            Assert.Equal(values.Length, dec.Read(decoded));
            Assert.Equal(values, decoded);
        }
    }
}
