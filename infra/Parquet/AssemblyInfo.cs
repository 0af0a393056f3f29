using System.Runtime.CompilerServices;

// Tests corrupt metadata through the internal Thrift structures.
[assembly: InternalsVisibleTo("Dreamer.Parquet.Tests")]
