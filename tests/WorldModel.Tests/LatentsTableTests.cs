using Dreamer.Schemas;

namespace Dreamer.WorldModel.Tests;

public sealed class LatentsTableTests
{
    private static LatentsLayout Layout() =>
        new(32, 16, 64, 64, 15, ActionSpaceSpec.SingleCategorical("action", Game.ActionSpace.Names));

    [Fact]
    public void LayoutRoundTripsThroughPartMetadata()
    {
        var layout = Layout();
        var metadata = layout.Metadata("tokenize-x", "ingest-y", "shard-00000-of-00001").ToDictionary(kv => kv.Key, kv => (string?)kv.Value);
        var back = LatentsLayout.FromMetadata(metadata, "part.parquet");
        Assert.Equal((32, 16, 64, 64, 15.0), (back.Tokens, back.Dim, back.FrameWidth, back.FrameHeight, back.Fps));
        Assert.Equal(layout.ActionSpace.ToJson().ToJsonString(), back.ActionSpace.ToJson().ToJsonString());
        Assert.Equal(1024, back.LatentBytes);
        Assert.Equal(["episode_id", "frame_index", "latent", "action_action", "reward", "done", "is_first", "split"],
            back.Schema.Columns.Select(c => c.DottedPath));
    }

    [Fact]
    public void MetadataOfAnotherTableIsRejectedNamingTheKey()
    {
        var metadata = Layout().Metadata("a", "b", "c").ToDictionary(kv => kv.Key, kv => (string?)kv.Value);
        metadata[LatentsTable.Keys.Table] = "frames";
        var e = Assert.Throws<InvalidDataException>(() => LatentsLayout.FromMetadata(metadata, "part.parquet"));
        Assert.Contains(LatentsTable.Keys.Table, e.Message);
    }

    [Fact]
    public void BatchRejectsColumnsOfDifferentLengths()
    {
        var layout = Layout();
        Assert.Throws<ArgumentException>(() => new LatentsBatch(layout, ["e"], [0], new byte[layout.LatentBytes], [new int[2]],
            [true], [0f], [true], [false], [true], ["train"]));
    }
}
