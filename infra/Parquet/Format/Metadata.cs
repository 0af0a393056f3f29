using System.Runtime.CompilerServices;
using Dreamer.Parquet.Thrift;

namespace Dreamer.Parquet.Format;

// The parquet.thrift structures this library reads and writes. Field ids are the spec's; fields
// we do not model are skipped on read (forward compatibility) and never written.
//
// The Read methods that every file open and every page run, like the page and value decoders, are marked
// AggressiveOptimization: compiled optimized once, instead of tier 0, then instrumented, then tier 1 (and OSR
// versions of their loops) over a process's first reads, which took a few percent of those reads' CPU time.

public sealed class KeyValue
{
    public string Key { get; set; } = "";
    public string? Value { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static KeyValue Read(CompactReader r)
    {
        var kv = new KeyValue();
        r.BeginStruct();
        while (r.NextField(out short id, out byte t))
        {
            switch (id)
            {
                case 1: kv.Key = r.ReadString(t); break;
                case 2: kv.Value = r.ReadString(t); break;
                default: r.Skip(t); break;
            }
        }
        r.EndStruct();
        return kv;
    }

    internal void Write(CompactWriter w)
    {
        w.StructBegin();
        w.FieldString(1, Key);
        if (Value != null) w.FieldString(2, Value);
        w.StructEnd();
    }

    internal static List<KeyValue> ReadList(CompactReader r, byte t)
    {
        int n = r.ReadListHeader(t, out _);
        var list = new List<KeyValue>(n);
        for (int i = 0; i < n; i++) list.Add(Read(r));
        return list;
    }

    internal static void WriteList(CompactWriter w, short id, IReadOnlyList<KeyValue> list)
    {
        w.FieldList(id, TType.Struct, list.Count);
        foreach (var kv in list) kv.Write(w);
    }
}

public sealed class SchemaElement
{
    public PhysicalType? Type { get; set; }
    public int? TypeLength { get; set; }
    public Repetition? RepetitionType { get; set; }
    public string Name { get; set; } = "";
    public int? NumChildren { get; set; }
    public ConvertedType? ConvertedType { get; set; }
    public int? Scale { get; set; }
    public int? Precision { get; set; }
    public int? FieldId { get; set; }
    public LogicalType? LogicalType { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static SchemaElement Read(CompactReader r)
    {
        var e = new SchemaElement();
        r.BeginStruct();
        while (r.NextField(out short id, out byte t))
        {
            switch (id)
            {
                case 1: e.Type = (PhysicalType)r.ReadI32(t); break;
                case 2: e.TypeLength = r.ReadI32(t); break;
                case 3: e.RepetitionType = (Repetition)r.ReadI32(t); break;
                case 4: e.Name = r.ReadString(t); break;
                case 5: e.NumChildren = r.ReadI32(t); break;
                case 6: e.ConvertedType = (ConvertedType)r.ReadI32(t); break;
                case 7: e.Scale = r.ReadI32(t); break;
                case 8: e.Precision = r.ReadI32(t); break;
                case 9: e.FieldId = r.ReadI32(t); break;
                case 10: e.LogicalType = ReadLogicalType(r, t); break;
                default: r.Skip(t); break;
            }
        }
        r.EndStruct();
        return e;
    }

    private static LogicalType? ReadLogicalType(CompactReader r, byte t)
    {
        if (t != TType.Struct) throw r.Error("logicalType is not a struct");
        LogicalType? result = null;
        r.BeginStruct();
        while (r.NextField(out short id, out byte ft))
        {
            if (ft != TType.Struct) { r.Skip(ft); continue; }
            var kind = (LogicalTypeKind)id;
            switch (kind)
            {
                case LogicalTypeKind.Decimal:
                    {
                        int scale = 0, precision = 0;
                        r.BeginStruct();
                        while (r.NextField(out short f, out byte tt))
                        {
                            if (f == 1) scale = r.ReadI32(tt);
                            else if (f == 2) precision = r.ReadI32(tt);
                            else r.Skip(tt);
                        }
                        r.EndStruct();
                        result = new LogicalType(kind) { Scale = scale, Precision = precision };
                        break;
                    }
                case LogicalTypeKind.Time:
                case LogicalTypeKind.Timestamp:
                    {
                        bool utc = false;
                        TimeUnit unit = TimeUnit.Millis;
                        r.BeginStruct();
                        while (r.NextField(out short f, out byte tt))
                        {
                            if (f == 1) utc = r.ReadBool(tt);
                            else if (f == 2 && tt == TType.Struct)
                            {
                                r.BeginStruct();
                                while (r.NextField(out short u, out byte ut)) { unit = (TimeUnit)u; r.Skip(ut); }
                                r.EndStruct();
                            }
                            else r.Skip(tt);
                        }
                        r.EndStruct();
                        result = new LogicalType(kind) { Unit = unit, IsAdjustedToUtc = utc };
                        break;
                    }
                case LogicalTypeKind.Integer:
                    {
                        int bits = 0;
                        bool signed = true;
                        r.BeginStruct();
                        while (r.NextField(out short f, out byte tt))
                        {
                            if (f == 1) bits = r.ReadI32(tt);
                            else if (f == 2) signed = r.ReadBool(tt);
                            else r.Skip(tt);
                        }
                        r.EndStruct();
                        result = LogicalType.Integer(bits, signed);
                        break;
                    }
                default:
                    r.Skip(ft);
                    // Kinds added after this reader was written keep their id but carry no parameters.
                    result = new LogicalType(Enum.IsDefined(kind) ? kind : LogicalTypeKind.None);
                    break;
            }
        }
        r.EndStruct();
        return result;
    }

    internal void Write(CompactWriter w)
    {
        w.StructBegin();
        if (Type is { } type) w.FieldI32(1, (int)type);
        if (TypeLength is { } len) w.FieldI32(2, len);
        if (RepetitionType is { } rep) w.FieldI32(3, (int)rep);
        w.FieldString(4, Name);
        if (NumChildren is { } nc) w.FieldI32(5, nc);
        if (ConvertedType is { } ct) w.FieldI32(6, (int)ct);
        if (Scale is { } s) w.FieldI32(7, s);
        if (Precision is { } p) w.FieldI32(8, p);
        if (FieldId is { } fid) w.FieldI32(9, fid);
        if (LogicalType is { } lt) WriteLogicalType(w, lt);
        w.StructEnd();
    }

    private static void WriteLogicalType(CompactWriter w, LogicalType lt)
    {
        w.FieldStruct(10);
        short id = (short)lt.Kind;
        switch (lt.Kind)
        {
            case LogicalTypeKind.Decimal:
                w.FieldStruct(id); w.FieldI32(1, lt.Scale); w.FieldI32(2, lt.Precision); w.StructEnd();
                break;
            case LogicalTypeKind.Time:
            case LogicalTypeKind.Timestamp:
                w.FieldStruct(id);
                w.FieldBool(1, lt.IsAdjustedToUtc);
                w.FieldStruct(2); w.FieldEmptyStruct((short)lt.Unit); w.StructEnd();
                w.StructEnd();
                break;
            case LogicalTypeKind.Integer:
                w.FieldStruct(id); w.FieldI8(1, (sbyte)lt.BitWidth); w.FieldBool(2, lt.IsSigned); w.StructEnd();
                break;
            default:
                w.FieldEmptyStruct(id);
                break;
        }
        w.StructEnd();
    }
}

public sealed class Statistics
{
    public byte[]? Max { get; set; }
    public byte[]? Min { get; set; }
    public long? NullCount { get; set; }
    public long? DistinctCount { get; set; }
    public byte[]? MaxValue { get; set; }
    public byte[]? MinValue { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static Statistics Read(CompactReader r)
    {
        var s = new Statistics();
        r.BeginStruct();
        while (r.NextField(out short id, out byte t))
        {
            switch (id)
            {
                case 1: s.Max = r.ReadBinary(t); break;
                case 2: s.Min = r.ReadBinary(t); break;
                case 3: s.NullCount = r.ReadI64(t); break;
                case 4: s.DistinctCount = r.ReadI64(t); break;
                case 5: s.MaxValue = r.ReadBinary(t); break;
                case 6: s.MinValue = r.ReadBinary(t); break;
                default: r.Skip(t); break;
            }
        }
        r.EndStruct();
        return s;
    }

    internal void Write(CompactWriter w, short fieldId)
    {
        w.FieldStruct(fieldId);
        if (Max != null) w.FieldBinary(1, Max);
        if (Min != null) w.FieldBinary(2, Min);
        if (NullCount is { } nc) w.FieldI64(3, nc);
        if (DistinctCount is { } dc) w.FieldI64(4, dc);
        if (MaxValue != null) w.FieldBinary(5, MaxValue);
        if (MinValue != null) w.FieldBinary(6, MinValue);
        w.StructEnd();
    }
}

public sealed class ColumnMetaData
{
    public PhysicalType Type { get; set; }
    public List<ParquetEncoding> Encodings { get; set; } = [];
    public List<string> PathInSchema { get; set; } = [];
    public CompressionCodec Codec { get; set; }
    public long NumValues { get; set; }
    public long TotalUncompressedSize { get; set; }
    public long TotalCompressedSize { get; set; }
    public List<KeyValue>? KeyValueMetadata { get; set; }
    public long DataPageOffset { get; set; }
    public long? IndexPageOffset { get; set; }
    public long? DictionaryPageOffset { get; set; }
    public Statistics? Statistics { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static ColumnMetaData Read(CompactReader r)
    {
        var m = new ColumnMetaData();
        r.BeginStruct();
        while (r.NextField(out short id, out byte t))
        {
            switch (id)
            {
                case 1: m.Type = (PhysicalType)r.ReadI32(t); break;
                case 2:
                    {
                        int n = r.ReadListHeader(t, out byte et);
                        for (int i = 0; i < n; i++) m.Encodings.Add((ParquetEncoding)r.ReadListI32(et));
                        break;
                    }
                case 3:
                    {
                        int n = r.ReadListHeader(t, out byte et);
                        for (int i = 0; i < n; i++) m.PathInSchema.Add(r.ReadListString(et));
                        break;
                    }
                case 4: m.Codec = (CompressionCodec)r.ReadI32(t); break;
                case 5: m.NumValues = r.ReadI64(t); break;
                case 6: m.TotalUncompressedSize = r.ReadI64(t); break;
                case 7: m.TotalCompressedSize = r.ReadI64(t); break;
                case 8: m.KeyValueMetadata = KeyValue.ReadList(r, t); break;
                case 9: m.DataPageOffset = r.ReadI64(t); break;
                case 10: m.IndexPageOffset = r.ReadI64(t); break;
                case 11: m.DictionaryPageOffset = r.ReadI64(t); break;
                case 12:
                    if (t != TType.Struct) throw r.Error("statistics is not a struct");
                    m.Statistics = Statistics.Read(r);
                    break;
                default: r.Skip(t); break;
            }
        }
        r.EndStruct();
        return m;
    }

    internal void Write(CompactWriter w)
    {
        w.FieldStruct(3);
        w.FieldI32(1, (int)Type);
        w.FieldList(2, TType.I32, Encodings.Count);
        foreach (var e in Encodings) w.I32((int)e);
        w.FieldList(3, TType.Binary, PathInSchema.Count);
        foreach (var p in PathInSchema) w.String(p);
        w.FieldI32(4, (int)Codec);
        w.FieldI64(5, NumValues);
        w.FieldI64(6, TotalUncompressedSize);
        w.FieldI64(7, TotalCompressedSize);
        if (KeyValueMetadata is { Count: > 0 }) KeyValue.WriteList(w, 8, KeyValueMetadata);
        w.FieldI64(9, DataPageOffset);
        if (IndexPageOffset is { } ipo) w.FieldI64(10, ipo);
        if (DictionaryPageOffset is { } dpo) w.FieldI64(11, dpo);
        Statistics?.Write(w, 12);
        w.StructEnd();
    }
}

public sealed class ColumnChunk
{
    public string? FilePath { get; set; }
    public long FileOffset { get; set; }
    public ColumnMetaData? MetaData { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static ColumnChunk Read(CompactReader r)
    {
        var c = new ColumnChunk();
        r.BeginStruct();
        while (r.NextField(out short id, out byte t))
        {
            switch (id)
            {
                case 1: c.FilePath = r.ReadString(t); break;
                case 2: c.FileOffset = r.ReadI64(t); break;
                case 3:
                    if (t != TType.Struct) throw r.Error("meta_data is not a struct");
                    c.MetaData = ColumnMetaData.Read(r);
                    break;
                default: r.Skip(t); break;
            }
        }
        r.EndStruct();
        return c;
    }

    internal void Write(CompactWriter w)
    {
        w.StructBegin();
        w.FieldI64(2, FileOffset);
        MetaData?.Write(w);
        w.StructEnd();
    }
}

public sealed class RowGroup
{
    public List<ColumnChunk> Columns { get; set; } = [];
    public long TotalByteSize { get; set; }
    public long NumRows { get; set; }
    public long? FileOffset { get; set; }
    public long? TotalCompressedSize { get; set; }
    public short? Ordinal { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static RowGroup Read(CompactReader r)
    {
        var g = new RowGroup();
        r.BeginStruct();
        while (r.NextField(out short id, out byte t))
        {
            switch (id)
            {
                case 1:
                    {
                        int n = r.ReadListHeader(t, out _);
                        for (int i = 0; i < n; i++) g.Columns.Add(ColumnChunk.Read(r));
                        break;
                    }
                case 2: g.TotalByteSize = r.ReadI64(t); break;
                case 3: g.NumRows = r.ReadI64(t); break;
                case 5: g.FileOffset = r.ReadI64(t); break;
                case 6: g.TotalCompressedSize = r.ReadI64(t); break;
                case 7: g.Ordinal = (short)r.ReadI32(t); break;
                default: r.Skip(t); break;
            }
        }
        r.EndStruct();
        return g;
    }

    internal void Write(CompactWriter w)
    {
        w.StructBegin();
        w.FieldList(1, TType.Struct, Columns.Count);
        foreach (var c in Columns) c.Write(w);
        w.FieldI64(2, TotalByteSize);
        w.FieldI64(3, NumRows);
        if (FileOffset is { } fo) w.FieldI64(5, fo);
        if (TotalCompressedSize is { } tcs) w.FieldI64(6, tcs);
        if (Ordinal is { } o) w.FieldI32(7, o);
        w.StructEnd();
    }
}

public sealed class FileMetaData
{
    public int Version { get; set; } = 1;
    public List<SchemaElement> Schema { get; set; } = [];
    public long NumRows { get; set; }
    public List<RowGroup> RowGroups { get; set; } = [];
    public List<KeyValue>? KeyValueMetadata { get; set; }
    public string? CreatedBy { get; set; }
    /// <summary>One entry per leaf column; true = TYPE_DEFINED_ORDER (the only order defined so far besides IEEE754 total order).</summary>
    public List<bool>? ColumnOrdersTypeDefined { get; set; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static FileMetaData Read(CompactReader r)
    {
        var m = new FileMetaData();
        r.BeginStruct();
        while (r.NextField(out short id, out byte t))
        {
            switch (id)
            {
                case 1: m.Version = r.ReadI32(t); break;
                case 2:
                    {
                        int n = r.ReadListHeader(t, out _);
                        for (int i = 0; i < n; i++) m.Schema.Add(SchemaElement.Read(r));
                        break;
                    }
                case 3: m.NumRows = r.ReadI64(t); break;
                case 4:
                    {
                        int n = r.ReadListHeader(t, out _);
                        for (int i = 0; i < n; i++) m.RowGroups.Add(RowGroup.Read(r));
                        break;
                    }
                case 5: m.KeyValueMetadata = KeyValue.ReadList(r, t); break;
                case 6: m.CreatedBy = r.ReadString(t); break;
                case 7:
                    {
                        int n = r.ReadListHeader(t, out _);
                        m.ColumnOrdersTypeDefined = new List<bool>(n);
                        for (int i = 0; i < n; i++)
                        {
                            bool typeDefined = false;
                            r.BeginStruct();
                            while (r.NextField(out short f, out byte ft)) { typeDefined |= f == 1; r.Skip(ft); }
                            r.EndStruct();
                            m.ColumnOrdersTypeDefined.Add(typeDefined);
                        }
                        break;
                    }
                default: r.Skip(t); break;
            }
        }
        r.EndStruct();
        return m;
    }

    internal void Write(CompactWriter w)
    {
        w.StructBegin();
        w.FieldI32(1, Version);
        w.FieldList(2, TType.Struct, Schema.Count);
        foreach (var e in Schema) e.Write(w);
        w.FieldI64(3, NumRows);
        w.FieldList(4, TType.Struct, RowGroups.Count);
        foreach (var g in RowGroups) g.Write(w);
        if (KeyValueMetadata is { Count: > 0 }) KeyValue.WriteList(w, 5, KeyValueMetadata);
        if (CreatedBy != null) w.FieldString(6, CreatedBy);
        if (ColumnOrdersTypeDefined != null)
        {
            w.FieldList(7, TType.Struct, ColumnOrdersTypeDefined.Count);
            foreach (var _ in ColumnOrdersTypeDefined)
            {
                w.StructBegin();
                w.FieldEmptyStruct(1);
                w.StructEnd();
            }
        }
        w.StructEnd();
    }
}

public sealed class DataPageHeader
{
    public int NumValues;
    public ParquetEncoding Encoding;
    public ParquetEncoding DefinitionLevelEncoding = ParquetEncoding.Rle;
    public ParquetEncoding RepetitionLevelEncoding = ParquetEncoding.Rle;
}

public sealed class DataPageHeaderV2
{
    public int NumValues, NumNulls, NumRows;
    public ParquetEncoding Encoding;
    public int DefinitionLevelsByteLength, RepetitionLevelsByteLength;
    public bool IsCompressed = true;
}

public sealed class DictionaryPageHeader
{
    public int NumValues;
    public ParquetEncoding Encoding;
}

public sealed class PageHeader
{
    public PageType Type;
    public int UncompressedPageSize;
    public int CompressedPageSize;
    public int? Crc;
    public DataPageHeader? DataPage;
    public DictionaryPageHeader? DictionaryPage;
    public DataPageHeaderV2? DataPageV2;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static PageHeader Read(CompactReader r)
    {
        var h = new PageHeader();
        r.BeginStruct();
        while (r.NextField(out short id, out byte t))
        {
            switch (id)
            {
                case 1: h.Type = (PageType)r.ReadI32(t); break;
                case 2: h.UncompressedPageSize = r.ReadI32(t); break;
                case 3: h.CompressedPageSize = r.ReadI32(t); break;
                case 4: h.Crc = r.ReadI32(t); break;
                case 5:
                    {
                        var d = h.DataPage = new DataPageHeader();
                        r.BeginStruct();
                        while (r.NextField(out short f, out byte ft))
                        {
                            switch (f)
                            {
                                case 1: d.NumValues = r.ReadI32(ft); break;
                                case 2: d.Encoding = (ParquetEncoding)r.ReadI32(ft); break;
                                case 3: d.DefinitionLevelEncoding = (ParquetEncoding)r.ReadI32(ft); break;
                                case 4: d.RepetitionLevelEncoding = (ParquetEncoding)r.ReadI32(ft); break;
                                default: r.Skip(ft); break;
                            }
                        }
                        r.EndStruct();
                        break;
                    }
                case 7:
                    {
                        var d = h.DictionaryPage = new DictionaryPageHeader();
                        r.BeginStruct();
                        while (r.NextField(out short f, out byte ft))
                        {
                            switch (f)
                            {
                                case 1: d.NumValues = r.ReadI32(ft); break;
                                case 2: d.Encoding = (ParquetEncoding)r.ReadI32(ft); break;
                                default: r.Skip(ft); break;
                            }
                        }
                        r.EndStruct();
                        break;
                    }
                case 8:
                    {
                        var d = h.DataPageV2 = new DataPageHeaderV2();
                        r.BeginStruct();
                        while (r.NextField(out short f, out byte ft))
                        {
                            switch (f)
                            {
                                case 1: d.NumValues = r.ReadI32(ft); break;
                                case 2: d.NumNulls = r.ReadI32(ft); break;
                                case 3: d.NumRows = r.ReadI32(ft); break;
                                case 4: d.Encoding = (ParquetEncoding)r.ReadI32(ft); break;
                                case 5: d.DefinitionLevelsByteLength = r.ReadI32(ft); break;
                                case 6: d.RepetitionLevelsByteLength = r.ReadI32(ft); break;
                                case 7: d.IsCompressed = r.ReadBool(ft); break;
                                default: r.Skip(ft); break;
                            }
                        }
                        r.EndStruct();
                        break;
                    }
                default: r.Skip(t); break;
            }
        }
        r.EndStruct();
        return h;
    }

    internal void Write(CompactWriter w)
    {
        w.StructBegin();
        w.FieldI32(1, (int)Type);
        w.FieldI32(2, UncompressedPageSize);
        w.FieldI32(3, CompressedPageSize);
        if (Crc is { } crc) w.FieldI32(4, crc);
        if (DataPage is { } d)
        {
            w.FieldStruct(5);
            w.FieldI32(1, d.NumValues);
            w.FieldI32(2, (int)d.Encoding);
            w.FieldI32(3, (int)d.DefinitionLevelEncoding);
            w.FieldI32(4, (int)d.RepetitionLevelEncoding);
            w.StructEnd();
        }
        if (DataPageV2 is { } v2)
        {
            w.FieldStruct(8);
            w.FieldI32(1, v2.NumValues);
            w.FieldI32(2, v2.NumNulls);
            w.FieldI32(3, v2.NumRows);
            w.FieldI32(4, (int)v2.Encoding);
            w.FieldI32(5, v2.DefinitionLevelsByteLength);
            w.FieldI32(6, v2.RepetitionLevelsByteLength);
            w.FieldBool(7, v2.IsCompressed);
            w.StructEnd();
        }
        if (DictionaryPage is { } dp)
        {
            w.FieldStruct(7);
            w.FieldI32(1, dp.NumValues);
            w.FieldI32(2, (int)dp.Encoding);
            w.StructEnd();
        }
        w.StructEnd();
    }
}
