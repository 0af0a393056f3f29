using Dreamer.Hosting;
using Dreamer.Stages.TrainDynamics;

var stage = new TrainDynamicsStage();
return await StageHost.RunAsync(TrainDynamicsStage.StageName, args, stage.PlanAsync, stage.RunAsync);
