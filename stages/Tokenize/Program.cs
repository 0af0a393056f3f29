using Dreamer.Hosting;
using Dreamer.Stages.Tokenize;

var stage = new TokenizeStage();
return await StageHost.RunAsync(TokenizeStage.StageName, args, stage.PlanAsync, stage.RunAsync);
