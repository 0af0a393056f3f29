using Dreamer.Parquet.Format;

namespace Dreamer.Parquet;

/// <summary>
/// A node of a Parquet schema: a primitive (leaf) column or a group of fields. The factory
/// methods build the shapes the writer supports; the reader builds arbitrary trees from files.
/// </summary>
public sealed class ParquetField
{
    public string Name { get; }
    public Repetition Repetition { get; }
    /// <summary>Null for groups.</summary>
    public PhysicalType? PhysicalType { get; }
    /// <summary>Byte width of FIXED_LEN_BYTE_ARRAY values (0 otherwise).</summary>
    public int TypeLength { get; }
    public LogicalType? LogicalType { get; }
    public ConvertedType? ConvertedType { get; }
    public IReadOnlyList<ParquetField> Children { get; }

    public ParquetField(string name, Repetition repetition, PhysicalType? physicalType, int typeLength = 0,
        LogicalType? logicalType = null, ConvertedType? convertedType = null, IReadOnlyList<ParquetField>? children = null)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("field names must not be empty", nameof(name));
        if (physicalType is null == (children is null)) throw new ArgumentException("a field is either primitive (physical type) or a group (children)");
        if (physicalType == Parquet.PhysicalType.FixedLenByteArray && typeLength <= 0)
            throw new ArgumentException("FIXED_LEN_BYTE_ARRAY needs a positive type length", nameof(typeLength));
        Name = name;
        Repetition = repetition;
        PhysicalType = physicalType;
        TypeLength = typeLength;
        LogicalType = logicalType;
        ConvertedType = convertedType;
        Children = children ?? [];
    }

    public bool IsGroup => PhysicalType is null;
    public bool IsNullable => Repetition == Repetition.Optional;
    internal bool IsList => LogicalType?.Kind == LogicalTypeKind.List || ConvertedType == Parquet.ConvertedType.List;

    private static Repetition Rep(bool nullable) => nullable ? Repetition.Optional : Repetition.Required;

    public static ParquetField Boolean(string name, bool nullable = false) => new(name, Rep(nullable), Parquet.PhysicalType.Boolean);
    public static ParquetField Int32(string name, bool nullable = false) => new(name, Rep(nullable), Parquet.PhysicalType.Int32);
    public static ParquetField Int64(string name, bool nullable = false) => new(name, Rep(nullable), Parquet.PhysicalType.Int64);
    public static ParquetField Float(string name, bool nullable = false) => new(name, Rep(nullable), Parquet.PhysicalType.Float);
    public static ParquetField Double(string name, bool nullable = false) => new(name, Rep(nullable), Parquet.PhysicalType.Double);
    public static ParquetField Binary(string name, bool nullable = false) => new(name, Rep(nullable), Parquet.PhysicalType.ByteArray);

    public static ParquetField String(string name, bool nullable = false) =>
        new(name, Rep(nullable), Parquet.PhysicalType.ByteArray, 0, Parquet.LogicalType.String, Parquet.ConvertedType.Utf8);

    public static ParquetField FixedBinary(string name, int length, bool nullable = false) =>
        new(name, Rep(nullable), Parquet.PhysicalType.FixedLenByteArray, length);

    /// <summary>IEEE half floats, stored as 2-byte FIXED_LEN_BYTE_ARRAY (values: Half[]).</summary>
    public static ParquetField Float16(string name, bool nullable = false) =>
        new(name, Rep(nullable), Parquet.PhysicalType.FixedLenByteArray, 2, Parquet.LogicalType.Float16);

    /// <summary>Timestamps as INT64 counts of the unit since the Unix epoch (values: long[]).</summary>
    public static ParquetField Timestamp(string name, TimeUnit unit, bool utc = true, bool nullable = false)
    {
        if (unit == TimeUnit.Nanos) throw new ArgumentException("nanosecond timestamps are not supported for writing", nameof(unit));
        // Converted types only describe UTC instants; local timestamps carry just the logical type.
        ConvertedType? converted = !utc ? null : unit == TimeUnit.Millis ? Parquet.ConvertedType.TimestampMillis : Parquet.ConvertedType.TimestampMicros;
        return new(name, Rep(nullable), Parquet.PhysicalType.Int64, 0, Parquet.LogicalType.Timestamp(unit, utc), converted);
    }

    /// <summary>Unsigned integers: 8, 16, 32 bits in INT32 (values: int[] or uint[]), 64 bits in INT64 (long[] or ulong[]).</summary>
    public static ParquetField UnsignedInteger(string name, int bitWidth, bool nullable = false)
    {
        var (physical, converted) = bitWidth switch
        {
            8 => (Parquet.PhysicalType.Int32, Parquet.ConvertedType.UInt8),
            16 => (Parquet.PhysicalType.Int32, Parquet.ConvertedType.UInt16),
            32 => (Parquet.PhysicalType.Int32, Parquet.ConvertedType.UInt32),
            64 => (Parquet.PhysicalType.Int64, Parquet.ConvertedType.UInt64),
            _ => throw new ArgumentOutOfRangeException(nameof(bitWidth), "8, 16, 32 or 64"),
        };
        return new(name, Rep(nullable), physical, 0, Parquet.LogicalType.Integer(bitWidth, false), converted);
    }

    /// <summary>
    /// A LIST in the standard 3-level layout: &lt;rep&gt; group name (LIST) { repeated group list { element } }.
    /// The element's name is normalized to "element".
    /// </summary>
    public static ParquetField List(string name, ParquetField element, bool nullable = false)
    {
        if (element.IsGroup) throw new ArgumentException("list elements must be primitive", nameof(element));
        if (element.Repetition == Repetition.Repeated) throw new ArgumentException("list elements are required or optional", nameof(element));
        var el = new ParquetField("element", element.Repetition, element.PhysicalType, element.TypeLength, element.LogicalType, element.ConvertedType);
        var repeated = new ParquetField("list", Repetition.Repeated, null, children: [el]);
        return new(name, Rep(nullable), null, 0, Parquet.LogicalType.List, Parquet.ConvertedType.List, [repeated]);
    }

    public static ParquetField Group(string name, Repetition repetition, params ParquetField[] children) =>
        new(name, repetition, null, children: children);

    public override string ToString() => IsGroup
        ? $"{Repetition.ToString().ToLowerInvariant()} group {Name} {{{string.Join("; ", Children)}}}"
        : $"{Repetition.ToString().ToLowerInvariant()} {PhysicalType} {Name}" + (LogicalType is { } lt ? $" ({lt.Kind})" : "");
}

/// <summary>A leaf column of a schema with its Dremel levels.</summary>
public sealed class ColumnDescriptor
{
    internal ColumnDescriptor(int index, string[] path, ParquetField field, int maxDef, int maxRep, int[] repeatedDefLevels)
    {
        Index = index;
        Path = path;
        Field = field;
        MaxDefinitionLevel = maxDef;
        MaxRepetitionLevel = maxRep;
        RepeatedDefinitionLevels = repeatedDefLevels;
    }

    /// <summary>Position among the leaves (= column chunk index in each row group).</summary>
    public int Index { get; }
    public IReadOnlyList<string> Path { get; }
    public string DottedPath => string.Join('.', Path);
    public ParquetField Field { get; }
    public PhysicalType PhysicalType => Field.PhysicalType!.Value;
    public int MaxDefinitionLevel { get; }
    public int MaxRepetitionLevel { get; }
    /// <summary>Definition level reached when each repeated ancestor (outermost first) has an element.</summary>
    public IReadOnlyList<int> RepeatedDefinitionLevels { get; }

    /// <summary>Byte width of one PLAIN value (0 for BYTE_ARRAY; 1 for BOOLEAN as one byte per value in memory).</summary>
    public int ValueWidth => Field.PhysicalType switch
    {
        Parquet.PhysicalType.Boolean => 1,
        Parquet.PhysicalType.Int32 or Parquet.PhysicalType.Float => 4,
        Parquet.PhysicalType.Int64 or Parquet.PhysicalType.Double => 8,
        Parquet.PhysicalType.Int96 => 12,
        Parquet.PhysicalType.FixedLenByteArray => Field.TypeLength,
        _ => 0,
    };

    public override string ToString() => DottedPath;
}

/// <summary>A schema: the root's fields and the flattened leaf columns.</summary>
public sealed class ParquetSchema
{
    public IReadOnlyList<ParquetField> Fields { get; }
    public IReadOnlyList<ColumnDescriptor> Columns { get; }

    public ParquetSchema(params ParquetField[] fields) : this((IReadOnlyList<ParquetField>)fields) { }

    public ParquetSchema(IReadOnlyList<ParquetField> fields)
    {
        if (fields.Count == 0) throw new ArgumentException("a schema needs at least one field");
        var names = new HashSet<string>();
        foreach (var f in fields)
            if (!names.Add(f.Name)) throw new ArgumentException($"duplicate field name '{f.Name}'");
        Fields = fields;
        var columns = new List<ColumnDescriptor>();
        foreach (var f in fields) Flatten(f, [], 0, 0, [], columns);
        Columns = columns;
    }

    private static void Flatten(ParquetField f, List<string> path, int def, int rep, List<int> repDefs, List<ColumnDescriptor> output)
    {
        if (f.Repetition != Repetition.Required) def++;
        bool repeated = f.Repetition == Repetition.Repeated;
        if (repeated) { rep++; repDefs.Add(def); }
        path.Add(f.Name);
        if (f.IsGroup)
            foreach (var c in f.Children) Flatten(c, path, def, rep, repDefs, output);
        else
            output.Add(new ColumnDescriptor(output.Count, [.. path], f, def, rep, [.. repDefs]));
        path.RemoveAt(path.Count - 1);
        if (repeated) repDefs.RemoveAt(repDefs.Count - 1);
    }

    /// <summary>Columns selected by dotted leaf path ("a.list.element") or by top-level field name ("a": all its leaves).</summary>
    public IReadOnlyList<ColumnDescriptor> Select(IEnumerable<string> names)
    {
        var result = new List<ColumnDescriptor>();
        foreach (var name in names)
        {
            var leaf = Columns.FirstOrDefault(c => c.DottedPath == name);
            if (leaf != null) { result.Add(leaf); continue; }
            var under = Columns.Where(c => c.Path[0] == name).ToList();
            if (under.Count == 0) throw new ArgumentException($"no column '{name}' in the schema");
            result.AddRange(under);
        }
        return result;
    }

    public ColumnDescriptor Column(string name) => Select([name]) is [var single] ? single
        : throw new ArgumentException($"'{name}' names a group with several leaf columns");

    internal List<SchemaElement> ToElements()
    {
        var list = new List<SchemaElement> { new() { Name = "schema", NumChildren = Fields.Count } };
        foreach (var f in Fields) AddElements(f, list);
        return list;
    }

    private static void AddElements(ParquetField f, List<SchemaElement> list)
    {
        list.Add(new SchemaElement
        {
            Name = f.Name,
            RepetitionType = f.Repetition,
            Type = f.PhysicalType,
            TypeLength = f.PhysicalType == PhysicalType.FixedLenByteArray ? f.TypeLength : null,
            NumChildren = f.IsGroup ? f.Children.Count : null,
            ConvertedType = f.ConvertedType,
            LogicalType = f.LogicalType,
        });
        foreach (var c in f.Children) AddElements(c, list);
    }

    /// <summary>Rebuilds the tree from the depth-first element list of a footer.</summary>
    internal static ParquetSchema FromElements(IReadOnlyList<SchemaElement> elements, Func<string, Exception> error)
    {
        if (elements.Count == 0) throw error("the schema is empty");
        int pos = 1;
        int rootChildren = elements[0].NumChildren ?? 0;
        if (rootChildren <= 0) throw error("the schema root has no children");
        var fields = new List<ParquetField>();
        for (int i = 0; i < rootChildren; i++) fields.Add(Build(elements, ref pos, 1, error));
        if (pos != elements.Count) throw error($"the schema has {elements.Count - pos} elements outside the tree");
        try { return new ParquetSchema(fields); }
        catch (ArgumentException e) { throw error(e.Message); }
    }

    private static ParquetField Build(IReadOnlyList<SchemaElement> elements, ref int pos, int depth, Func<string, Exception> error)
    {
        if (pos >= elements.Count) throw error("the schema tree needs more elements than the list holds");
        if (depth > 64) throw error("the schema is nested too deeply");
        var e = elements[pos++];
        var rep = e.RepetitionType ?? Repetition.Optional;
        if (e.NumChildren is int n && (e.Type is null || n > 0))
        {
            if (n < 0 || n > elements.Count - pos) throw error($"schema element '{e.Name}' claims {n} children");
            var children = new List<ParquetField>(n);
            for (int i = 0; i < n; i++) children.Add(Build(elements, ref pos, depth + 1, error));
            return new ParquetField(e.Name, rep, null, 0, e.LogicalType, e.ConvertedType, children);
        }
        if (e.Type is not { } type || !Enum.IsDefined(type)) throw error($"schema element '{e.Name}' has no valid physical type");
        int len = e.TypeLength ?? 0;
        if (type == PhysicalType.FixedLenByteArray && len <= 0) throw error($"schema element '{e.Name}' has type length {len}");
        if (type != PhysicalType.FixedLenByteArray) len = 0;
        try
        {
            return new ParquetField(string.IsNullOrEmpty(e.Name) ? "_" : e.Name, rep, type, len,
                e.LogicalType ?? FromConverted(e.ConvertedType, e), e.ConvertedType);
        }
        catch (ArgumentException ex) { throw error(ex.Message); }
    }

    // Files from writers that predate logical types carry only converted types.
    private static LogicalType? FromConverted(ConvertedType? ct, SchemaElement e) => ct switch
    {
        ConvertedType.Utf8 or ConvertedType.Enum or ConvertedType.Json => LogicalType.String,
        ConvertedType.UInt8 => LogicalType.Integer(8, false),
        ConvertedType.UInt16 => LogicalType.Integer(16, false),
        ConvertedType.UInt32 => LogicalType.Integer(32, false),
        ConvertedType.UInt64 => LogicalType.Integer(64, false),
        ConvertedType.Int8 => LogicalType.Integer(8, true),
        ConvertedType.Int16 => LogicalType.Integer(16, true),
        ConvertedType.Int32 => LogicalType.Integer(32, true),
        ConvertedType.Int64 => LogicalType.Integer(64, true),
        ConvertedType.TimestampMillis => LogicalType.Timestamp(TimeUnit.Millis, true),
        ConvertedType.TimestampMicros => LogicalType.Timestamp(TimeUnit.Micros, true),
        ConvertedType.Date => new LogicalType(LogicalTypeKind.Date),
        ConvertedType.Decimal => new LogicalType(LogicalTypeKind.Decimal) { Scale = e.Scale ?? 0, Precision = e.Precision ?? 0 },
        _ => null,
    };
}
