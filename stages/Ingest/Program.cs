using Dreamer.Hosting;
using Dreamer.Stages.Ingest;

var stage = new IngestStage();
return await StageHost.RunAsync(IngestStage.StageName, args, stage.PlanAsync, stage.RunAsync);
