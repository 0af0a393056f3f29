using System.Text;
using Dreamer.Parquet;
using Dreamer.Schemas;

namespace Dreamer.Ingest.Tests;

/// <summary>The raw dataset format (dataset.json, logs) and the frames table helpers, without video.</summary>
public sealed class RawFormatTests
{
    const string KeyboardMouse = """
        {"fps": 20, "width": 128, "height": 72, "producer": {"anything": [1, 2]},
         "actionSpace": {"components": [
            {"name": "keys", "type": "binary", "keys": ["w", "a", "s", "d", "space"]},
            {"name": "mouse", "type": "categorical", "classes": ["none", "left", "right"]},
            {"name": "yaw", "type": "continuous", "low": -1, "high": 1}]}}
        """;

    static ActionSpaceSpec Space => RawDatasetInfo.Parse(Encoding.UTF8.GetBytes(KeyboardMouse), "dataset.json").ActionSpace;
    static readonly ActionSpaceSpec Game = ActionSpaceSpec.SingleCategorical("command", ["noop", "left", "right"]);

    static RawLog Parse(ActionSpaceSpec space, params string[] lines) =>
        RawLog.Parse(Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"), space, "ep.jsonl");

    static string Error(ActionSpaceSpec space, params string[] lines) =>
        Assert.Throws<RawFormatException>(() => Parse(space, lines)).Message;

    [Fact]
    public void A_keyboard_and_mouse_space_flattens_to_typed_columns()
    {
        var info = RawDatasetInfo.Parse(Encoding.UTF8.GetBytes(KeyboardMouse), "dataset.json");
        Assert.Equal((20.0, 128, 72), (info.Fps, info.Width, info.Height));
        Assert.Equal(["action_keys_w", "action_keys_a", "action_keys_s", "action_keys_d", "action_keys_space", "action_mouse", "action_yaw"],
            info.ActionSpace.Columns.Select(c => c.ColumnName));
        Assert.Equal([ActionValueKind.Boolean, ActionValueKind.Boolean, ActionValueKind.Boolean, ActionValueKind.Boolean, ActionValueKind.Boolean,
            ActionValueKind.Int32, ActionValueKind.Float], info.ActionSpace.Columns.Select(c => c.Kind));
        // dataset.json written by us reads back the same.
        var again = RawDatasetInfo.Parse(info.ToJsonBytes(), "again.json");
        Assert.Equal(info.ActionSpace.ToJson().ToJsonString(), again.ActionSpace.ToJson().ToJsonString());
    }

    [Fact]
    public void Logs_parse_actions_of_every_component_kind_and_ignore_extra_fields()
    {
        var log = Parse(Space,
            """{"t": 0, "action": {"keys": {"w": true, "space": true}, "mouse": 2, "yaw": -0.5}, "reward": 1.5, "done": false, "fps": 20, "note": {"x": [1]}}""",
            """{"t": 1, "action": null, "reward": null}""",
            """{"t": 2, "action": {"keys": {}, "mouse": 0, "yaw": 1}, "done": true}""");
        Assert.Equal(3, log.Count);
        Assert.Equal([true, false, false], (bool[])log.Actions[0]);
        Assert.Equal([false, false, false], (bool[])log.Actions[1]);
        Assert.Equal([true, false, false], (bool[])log.Actions[4]);
        Assert.Equal([2, 0, 0], (int[])log.Actions[5]);
        Assert.Equal([-0.5f, 0f, 1f], (float[])log.Actions[6]);
        Assert.Equal([true, false, true], log.HasAction);
        Assert.Equal([true, false, false], log.HasReward);
        Assert.Equal(1.5f, log.Reward[0]);
        Assert.Equal([false, false, true], log.Done);
    }

    [Fact]
    public void A_log_fits_every_frame_or_every_frame_but_the_last()
    {
        var log = Parse(Game, """{"t":0,"action":1,"reward":0,"done":false}""", """{"t":1,"action":2,"reward":1,"done":true}""");
        Assert.Null(log.CheckFits(2, "ep.jsonl"));
        Assert.Null(log.CheckFits(3, "ep.jsonl"));
        Assert.Equal("log ep.jsonl has 2 lines for 4 frames (expected 4 or 3)", log.CheckFits(4, "ep.jsonl"));
        Assert.Equal("log ep.jsonl has 2 lines for 1 frames (expected 1 or 0)", log.CheckFits(1, "ep.jsonl"));
    }

    [Theory]
    [InlineData("""{"t":0,"action":3}""", "ep.jsonl: line 1: field 'action': expected a class index in [0, 3), found 3")]
    [InlineData("""{"t":0,"action":1.5}""", "ep.jsonl: line 1: field 'action': expected a class index in [0, 3), found 1.5")]
    [InlineData("""{"t":0,"action":"left"}""", "ep.jsonl: line 1: field 'action': expected a number or an object of components (command), found \"left\"")]
    [InlineData("""{"t":1,"action":1}""", "ep.jsonl: line 1: field 't': expected t=0 (one line per frame from t=0), found t=1")]
    [InlineData("""{"action":1}""", "ep.jsonl: line 1: field 't': missing; expected the step number")]
    [InlineData("""{"t":0}""", "ep.jsonl: line 1: field 'action': missing; expected the action (null when not recorded)")]
    [InlineData("""{"t":0,"action":1,"reward":"x"}""", "ep.jsonl: line 1: field 'reward': expected a number or null, found \"x\"")]
    [InlineData("""{"t":0,"action":{"command":1,"other":2}}""", "ep.jsonl: line 1: field 'action': unknown component 'other'; expected command")]
    [InlineData("""[0, 1]""", "ep.jsonl: line 1: expected a JSON object {\"t\", \"action\", \"reward\", \"done\"}")]
    public void Bad_log_lines_name_the_line_the_field_and_what_was_expected(string line, string message) =>
        Assert.Equal(message, Error(Game, line));

    [Fact]
    public void Log_errors_in_later_lines_and_structure()
    {
        Assert.Equal("ep.jsonl: line 3: field 't': expected strictly increasing t, found t=1 after t=1",
            Error(Game, """{"t":0,"action":0}""", """{"t":1,"action":0}""", """{"t":1,"action":0}"""));
        Assert.Equal("ep.jsonl: field 'done': done=true at t=0 but the log continues to t=1; expected done only on the last line",
            Error(Game, """{"t":0,"action":0,"done":true}""", """{"t":1,"action":0}"""));
        Assert.StartsWith("ep.jsonl: line 2: invalid JSON:", Error(Game, """{"t":0,"action":0}""", """{"t":1,"action":0"""));
        Assert.Equal("ep.jsonl: line 1: field 'action.yaw': expected a number in [-1, 1], found 2",
            Error(Space, """{"t":0,"action":{"keys":{},"mouse":0,"yaw":2}}"""));
        Assert.Equal("ep.jsonl: line 1: field 'action.keys': unknown key 'q'; expected w, a, s, d, space",
            Error(Space, """{"t":0,"action":{"keys":{"q":true},"mouse":0,"yaw":0}}"""));
        Assert.Equal("ep.jsonl: line 1: field 'action.mouse': missing; every component needs a value",
            Error(Space, """{"t":0,"action":{"keys":{},"yaw":0}}"""));
    }

    [Theory]
    [InlineData("""{"fps": 0, "width": 64, "height": 64, "actionSpace": {"components": []}}""", "field 'fps': expected a number in (0, 1000]")]
    [InlineData("""{"fps": 15, "width": 64, "height": 64}""", "field 'actionSpace': expected an object with \"components\"")]
    [InlineData("""{"fps": 15, "width": 64, "height": 64, "actionSpace": {"components": [{"name": "Keys", "type": "binary", "keys": ["w"]}]}}""",
        "field 'actionSpace.components[0].name': expected lowercase letters, digits and '_' starting with a letter, found 'Keys'")]
    [InlineData("""{"fps": 15, "width": 64, "height": 64, "actionSpace": {"components": [{"name": "a", "type": "wheel"}]}}""",
        "field 'actionSpace.components[0].type': expected \"categorical\", \"binary\" or \"continuous\", found \"wheel\"")]
    [InlineData("""{"fps": 15, "width": 64, "height": 64, "actionSpace": {"components": [{"name": "a", "type": "continuous", "low": 1, "high": 1}]}}""",
        "field 'actionSpace.components[0]': expected low < high, found low=1 high=1")]
    [InlineData("""{"fps": 15, "width": 64, "height": 64, "actionSpace": {"components": [{"name": "a", "type": "binary", "keys": ["b"]}, {"name": "a_b", "type": "categorical", "classes": ["x"]}]}}""",
        "field 'actionSpace.components': two components flatten to the column 'action_a_b'; rename one")]
    [InlineData("""{"schemaVersion": 2, "fps": 15, "width": 64, "height": 64, "actionSpace": {"components": []}}""",
        "field 'schemaVersion': this build reads version 1, found 2")]
    public void Bad_dataset_descriptions_name_the_field(string json, string message) =>
        Assert.Equal("dataset.json: " + message, Assert.Throws<RawFormatException>(() => RawDatasetInfo.Parse(Encoding.UTF8.GetBytes(json), "dataset.json")).Message);

    /// <summary>A frames batch with every kind of action column goes through Parquet and back unchanged.</summary>
    [Fact]
    public async Task Frames_batches_round_trip_through_parquet()
    {
        var layout = new FramesLayout(8, 4, 20, Space);
        var log = Parse(Space,
            """{"t": 0, "action": {"keys": {"a": true}, "mouse": 1, "yaw": 0.25}, "reward": 2}""",
            """{"t": 1, "action": null, "reward": -1}""",
            """{"t": 2, "action": {"keys": {"d": true}, "mouse": 2, "yaw": -1}, "done": true}""");
        var batch = new FramesBatch(layout, 8) { Count = 4 };
        for (int i = 0; i < 4; i++)
        {
            batch.EpisodeId[i] = "ep";
            batch.FrameIndex[i] = i;
            batch.Image(i).Fill((byte)(i * 10));
            batch.SourceFile[i] = "raw/x/ep.mp4";
            batch.SourceOffset[i] = i;
            batch.Split[i] = FramesTable.TrainSplit;
        }
        batch.SetLabels(0, log, 0, 4);
        batch.Done[3] = true;

        using var buffer = new MemoryStream();
        using (var writer = new ParquetWriter(buffer, layout.Schema, leaveOpen: true))
        {
            foreach (var (k, v) in layout.Metadata("ingest-test")) writer.Metadata[k] = v;
            writer.Write(batch.ToColumns());
        }
        buffer.Position = 0;
        using var reader = await ParquetReader.OpenAsync(buffer, "mem");
        var back = FramesBatch.FromColumns(FramesLayout.FromMetadata(reader.KeyValueMetadata, "mem"), await reader.ReadRowGroupAsync(0));
        Assert.Equal(4, back.Count);
        Assert.Equal([true, false, true, false], back.HasAction);
        Assert.Equal([true, false, false, false], back.BooleanAction(1)[..4]);
        Assert.Equal([false, false, true, false], back.BooleanAction(3)[..4]);
        Assert.Equal(1, back.Int32Action(5)[0]);
        Assert.Equal(2, back.Int32Action(5)[2]);
        Assert.Equal(0.25f, back.FloatAction(6)[0]);
        Assert.Equal([true, true, false, false], back.HasReward);
        Assert.Equal([2f, -1f], back.Reward[..2]);
        Assert.Equal([false, false, false, true], back.Done);
        Assert.Equal(batch.Images[..(4 * layout.FrameBytes)], back.Images);
        Assert.Equal(["ep", "ep", "ep", "ep"], back.EpisodeId);
        Assert.Equal("raw/x/ep.mp4", back.SourceFile[3]);
    }

    [Fact]
    public void Splits_are_stable_and_follow_the_fraction()
    {
        var ids = Enumerable.Range(0, 2000).Select(i => $"episode-{i:D6}").ToList();
        int validation = ids.Count(id => FramesTable.SplitOf(id, 0.1) == FramesTable.ValidationSplit);
        Assert.InRange(validation, 150, 250);
        Assert.All(ids, id => Assert.Equal(FramesTable.SplitOf(id, 0.1), FramesTable.SplitOf(id, 0.1)));
        Assert.All(ids, id => Assert.Equal(FramesTable.TrainSplit, FramesTable.SplitOf(id, 0)));
        Assert.All(ids, id => Assert.Equal(FramesTable.ValidationSplit, FramesTable.SplitOf(id, 1)));
        // Growing the fraction only moves episodes into validation.
        Assert.All(ids.Where(id => FramesTable.SplitOf(id, 0.1) == FramesTable.ValidationSplit),
            id => Assert.Equal(FramesTable.ValidationSplit, FramesTable.SplitOf(id, 0.3)));
    }
}
