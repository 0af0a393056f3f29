using System.Text.Json.Nodes;

namespace Dreamer.WorldModel.Tests;

/// <summary>A trainer's state brought back the way a checkpoint in the store carries it: tensors through safetensors bytes, the rest through JSON text.</summary>
internal static class CheckpointRoundTrip
{
    public static TrainerCheckpoint Of(ICheckpointedTrainer trainer)
    {
        var saved = TrainerCheckpoint.Capture(trainer);
        static JsonObject Reparsed(JsonObject json) => JsonNode.Parse(json.ToJsonString())!.AsObject();
        return saved with { Rng = Reparsed(saved.Rng), Cursor = Reparsed(saved.Cursor), Extra = Reparsed(saved.Extra) };
    }
}
