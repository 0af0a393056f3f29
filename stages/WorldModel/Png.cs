using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Dreamer.WorldModel;

/// <summary>
/// A minimal PNG encoder: 8-bit RGB, no interlace, filter type 0 on every row, one zlib IDAT chunk
/// (System.IO.Compression), CRC-32 per chunk. Enough for the tokenizer's sample grids and for the frames
/// `dreamer play` streams (tiny, so the simplest valid file is also fast enough at model speed).
/// </summary>
public static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>Encodes row-major RGB bytes (height x width x 3); <paramref name="level"/>: Fastest for frames streamed live.</summary>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height, CompressionLevel level = CompressionLevel.Optimal)
    {
        if (width < 1 || height < 1 || rgb.Length != (long)width * height * 3)
            throw new ArgumentException($"{rgb.Length} bytes is not a {width}x{height} RGB image");
        using var output = new MemoryStream();
        output.Write(Signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;  // bit depth
        header[9] = 2;  // colour type: truecolour
        header[10] = 0; // deflate
        header[11] = 0; // adaptive filtering
        header[12] = 0; // no interlace
        WriteChunk(output, "IHDR", header);

        using (var compressed = new MemoryStream())
        {
            using (var z = new ZLibStream(compressed, level, leaveOpen: true))
            {
                var stride = width * 3;
                for (var y = 0; y < height; y++)
                {
                    z.WriteByte(0); // filter: none
                    z.Write(rgb.Slice(y * stride, stride));
                }
            }
            WriteChunk(output, "IDAT", compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        Encoding.ASCII.GetBytes(type, typeBytes);
        output.Write(typeBytes);
        output.Write(data);
        var crc = Crc32(Crc32(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }

    /// <summary>The running CRC-32 (ISO-HDLC, reflected 0xEDB88320) without the final inversion.</summary>
    public static uint Crc32(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>
    /// Lays out rows of equal-size RGB tiles (each height x width x 3) with a gap of
    /// <paramref name="gap"/> pixels in <paramref name="background"/> grey between tiles.
    /// </summary>
    public static (byte[] Rgb, int Width, int Height) Grid(IReadOnlyList<IReadOnlyList<byte[]>> rows, int tileWidth, int tileHeight, int gap = 2, byte background = 32)
    {
        var columns = rows.Max(r => r.Count);
        var width = columns * tileWidth + (columns + 1) * gap;
        var height = rows.Count * tileHeight + (rows.Count + 1) * gap;
        var image = new byte[width * height * 3];
        image.AsSpan().Fill(background);
        for (var r = 0; r < rows.Count; r++)
            for (var c = 0; c < rows[r].Count; c++)
            {
                var tile = rows[r][c];
                if (tile.Length != tileWidth * tileHeight * 3) throw new ArgumentException($"tile ({r}, {c}) is not {tileWidth}x{tileHeight} RGB");
                int x0 = gap + c * (tileWidth + gap), y0 = gap + r * (tileHeight + gap);
                for (var y = 0; y < tileHeight; y++)
                    tile.AsSpan(y * tileWidth * 3, tileWidth * 3).CopyTo(image.AsSpan(((y0 + y) * width + x0) * 3));
            }
        return (image, width, height);
    }
}
