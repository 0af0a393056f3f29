using Dreamer.Hosting;
using Dreamer.Stages.Collect;

return await StageHost.RunAsync(CollectStage.StageName, args, async ctx => await CollectStage.RunAsync(ctx));
