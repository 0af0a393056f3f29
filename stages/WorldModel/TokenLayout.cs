using Dreamer.Torch;

namespace Dreamer.WorldModel;

using Torch = Dreamer.Torch.Torch;

/// <summary>
/// What the tokens of one frame are: a modality per slot, which modalities may read which in space
/// attention, each slot's 2-D position for axial RoPE, and the slots that take part in time attention.
/// Register tokens are not listed here: the transformer appends <see cref="SpaceTimeConfig.Registers"/>
/// of them after the listed slots, with modality <see cref="RegisterModality"/>.
/// </summary>
public sealed class TokenLayout
{
    private readonly bool[,] _reads;
    private readonly bool[,]? _slotReads;

    /// <param name="modalities">Modality id (0..M-1) of every listed slot, in order.</param>
    /// <param name="reads">reads[q, k]: a query of modality q may attend to a key of modality k (M x M, registers included).</param>
    /// <param name="registerModality">Modality id of the appended register tokens.</param>
    /// <param name="rows">Axial RoPE row per listed slot (0 with col 0 is the identity rotation).</param>
    /// <param name="cols">Axial RoPE column per listed slot.</param>
    /// <param name="timeStart">First slot with time attention.</param>
    /// <param name="timeCount">Number of consecutive slots with time attention; null: every slot, registers included.</param>
    /// <param name="slotReads">Optional [slots, slots] narrowing of reads between listed slots (both must allow a read);
    /// every slot must read itself. Registers are not narrowed.</param>
    public TokenLayout(int[] modalities, bool[,] reads, int registerModality, long[] rows, long[] cols, int timeStart = 0, int? timeCount = null,
        bool[,]? slotReads = null)
    {
        var m = reads.GetLength(0);
        if (reads.GetLength(1) != m) throw new ArgumentException("reads must be a square modality x modality matrix");
        if (modalities.Any(x => x < 0 || x >= m)) throw new ArgumentException($"modality ids must lie in 0..{m - 1}");
        // A token that may read no key would get an all -inf softmax row (NaN).
        for (var i = 0; i < m; i++)
            if (!reads[i, i]) throw new ArgumentException($"modality {i} must read itself");
        if (registerModality < 0 || registerModality >= m) throw new ArgumentException($"register modality must lie in 0..{m - 1}");
        if (rows.Length != modalities.Length || cols.Length != modalities.Length) throw new ArgumentException("one row and column per slot");
        if (timeCount is { } tc && (timeStart < 0 || tc < 1 || timeStart + tc > modalities.Length))
            throw new ArgumentException($"time slots [{timeStart}, {timeStart + tc}) fall outside the {modalities.Length} listed slots");
        if (slotReads != null)
        {
            if (slotReads.GetLength(0) != modalities.Length || slotReads.GetLength(1) != modalities.Length)
                throw new ArgumentException($"slotReads must be {modalities.Length} x {modalities.Length}, one row and column per listed slot");
            for (var i = 0; i < modalities.Length; i++)
                if (!slotReads[i, i]) throw new ArgumentException($"slot {i} must read itself");
            _slotReads = (bool[,])slotReads.Clone();
        }
        Modalities = modalities;
        _reads = (bool[,])reads.Clone();
        RegisterModality = registerModality;
        Rows = rows;
        Cols = cols;
        TimeStart = timeStart;
        TimeCount = timeCount;
    }

    public int[] Modalities { get; }
    public int RegisterModality { get; }
    public long[] Rows { get; }
    public long[] Cols { get; }
    public int TimeStart { get; }
    public int? TimeCount { get; }
    public int Slots => Modalities.Length;

    public bool Reads(int queryModality, int keyModality) => _reads[queryModality, keyModality];

    /// <summary>Every slot reads every slot, all of them in time attention, positions on a row-major grid.</summary>
    public static TokenLayout Grid(long height, long width)
    {
        var n = (int)(height * width);
        var rows = new long[n];
        var cols = new long[n];
        for (var i = 0; i < n; i++) (rows[i], cols[i]) = (i / width, i % width);
        return new TokenLayout(new int[n], new[,] { { true } }, 0, rows, cols);
    }

    /// <summary>Modality of slot i, registers (appended after the listed slots) included.</summary>
    public int ModalityOf(int slot) => slot < Slots ? Modalities[slot] : RegisterModality;

    /// <summary>Whether slot q may read slot k in space attention (registers appended).</summary>
    public bool SlotReads(int q, int k) =>
        _reads[ModalityOf(q), ModalityOf(k)] && (_slotReads == null || q >= Slots || k >= Slots || _slotReads[q, k]);

    /// <summary>The [S, S] boolean space mask with registers appended; null when every slot reads every slot.</summary>
    public Tensor? SpaceMask(int registers, Device device)
    {
        var s = Slots + registers;
        var data = new bool[s * s];
        var all = true;
        for (var q = 0; q < s; q++)
            for (var k = 0; k < s; k++)
                all &= data[q * s + k] = SlotReads(q, k);
        if (all) return null;
        using var cpu = Tensor.From<bool>(data, s, s);
        return cpu.To(device);
    }

    /// <summary>Time slots as (start, count) with registers appended.</summary>
    public (int Start, int Count) TimeSlots(int registers) => TimeCount is { } c ? (TimeStart, c) : (0, Slots + registers);
}

/// <summary>Boolean [Tq, Tk] masks for block-causal time attention, optionally limited to a window of frames.</summary>
public static class TimeMasks
{
    /// <summary>
    /// Queries are the last <paramref name="queries"/> of <paramref name="keys"/> frames. Query frame i sees
    /// key frame j when j &lt;= i and, with a window W, i - j &lt; W (itself and the W-1 frames before it).
    /// </summary>
    public static Tensor Causal(long queries, long keys, int? window, Device device)
    {
        var data = new bool[queries * keys];
        var offset = keys - queries;
        for (long i = 0; i < queries; i++)
            for (long j = 0; j < keys; j++)
            {
                var qi = offset + i;
                data[i * keys + j] = j <= qi && (window is not { } w || qi - j < w);
            }
        using var cpu = Tensor.From<bool>(data, queries, keys);
        return cpu.To(device);
    }
}
