namespace Dreamer.Parquet;

/// <summary>The parquet.thrift LogicalType union, flattened: Kind plus the parameters of that kind.</summary>
public sealed record LogicalType(LogicalTypeKind Kind)
{
    public int BitWidth { get; init; }
    public bool IsSigned { get; init; } = true;
    public TimeUnit Unit { get; init; }
    public bool IsAdjustedToUtc { get; init; }
    public int Scale { get; init; }
    public int Precision { get; init; }

    public static readonly LogicalType String = new(LogicalTypeKind.String);
    public static readonly LogicalType List = new(LogicalTypeKind.List);
    public static readonly LogicalType Float16 = new(LogicalTypeKind.Float16);
    public static LogicalType Integer(int bitWidth, bool signed) => new(LogicalTypeKind.Integer) { BitWidth = bitWidth, IsSigned = signed };
    public static LogicalType Timestamp(TimeUnit unit, bool utc) => new(LogicalTypeKind.Timestamp) { Unit = unit, IsAdjustedToUtc = utc };
}
