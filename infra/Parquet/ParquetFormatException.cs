namespace Dreamer.Parquet;

/// <summary>
/// The bytes are not a valid Parquet file (or use a feature this reader does not support).
/// The message always names the file and the byte offset where the problem was found, so a
/// corrupt artifact in a store can be located without a debugger.
/// </summary>
public sealed class ParquetFormatException : Exception
{
    public string FileName { get; }
    public long Offset { get; }

    public ParquetFormatException(string fileName, long offset, string detail, Exception? inner = null)
        : base($"{fileName}: {detail} (at byte offset {offset})", inner)
    {
        FileName = fileName;
        Offset = offset;
    }
}
