using Api.Infrastructure;
using Quartz;
using Storage;

namespace Api.Training;

public static class TrainingServiceExtensions
{
    /// <summary>
    /// The training side of the service: Quartz with its SQLite job store, the worker's helpers, SignalR,
    /// the scheduler health check and start-up recovery. Call after AddStorage (its hosted service must
    /// migrate before the scheduler starts).
    /// </summary>
    public static WebApplicationBuilder AddTraining(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(WorkerOptions.Section);
        builder.Services.Configure<WorkerOptions>(section);
        var worker = section.Get<WorkerOptions>() ?? new WorkerOptions();
        var storage = builder.Configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        var paths = new StoragePaths(storage);

        // Explicit, so the worker's graceful stop (next batch, then the database write) is governed by one setting.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(Math.Max(1, worker.ShutdownTimeoutSeconds)));
        // Before any matrix product runs: its worker threads start at the first parallel product and are niced then.
        ComputePriority.Configure(worker.Nice);
        Engine.Kernels.Gemm.WorkerThreadStarted = ComputePriority.LowerCurrentThread;
        builder.Services.AddHostedService<ComputePriority.Logging>();
        builder.Services.AddSingleton<TrainingRegistry>();
        builder.Services.AddSingleton<JobEvents>();
        builder.Services.AddSingleton<JobLifecycle>();
        builder.Services.AddSingleton<TrainingScheduler>();

        builder.AddQuartz(q =>
        {
            q.UseDefaultThreadPool(Math.Max(1, worker.Concurrency));
            // A shutdown asks running jobs to stop at the next batch and waits for them, so they leave the
            // database consistent; they continue from their last checkpoint at the next start.
            q.ConfigureScheduler(s => s.ShutdownJobInterruption = ShutdownJobInterruption.Always);
            q.UsePersistentStore(s =>
            {
                s.UseSqlite(StorageServiceCollectionExtensions.ConnectionString(paths.SchedulerDatabase, storage.BusyTimeoutSeconds));
                s.ProvisionSchema();
                s.UseSystemTextJsonSerializer();
            });
        });
        // Started with the host rather than after it, so TrainingRecovery (registered next) finds the
        // scheduler's tables created.
        builder.AddQuartzHostedService(o =>
        {
            o.WaitForJobsToComplete = true;
            o.AwaitApplicationStarted = false;
        });
        builder.Services.AddHostedService<TrainingRecovery>();
        builder.Services.AddHealthChecks().AddQuartz(o => o.Name = "scheduler");
        builder.Services.AddSignalR().AddJsonProtocol(o => ApiJson.Configure(o.PayloadSerializerOptions));
        return builder;
    }
}
