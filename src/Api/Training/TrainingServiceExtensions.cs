using Api.Infrastructure;
using Hangfire;
using Hangfire.AspNetCore;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Storage;

namespace Api.Training;

public static class TrainingServiceExtensions
{
    /// <summary>
    /// The training side of the service: Hangfire (<see cref="HangfireStorage"/>, one worker per Training:Concurrency), the job
    /// leases, the worker's helpers, SignalR, the scheduler health check and start-up recovery. Call after AddStorage
    /// (its hosted service must migrate before recovery reads the jobs).
    /// </summary>
    public static WebApplicationBuilder AddTraining(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(WorkerOptions.Section);
        builder.Services.Configure<WorkerOptions>(section);
        var worker = section.Get<WorkerOptions>() ?? new WorkerOptions();
        var shutdown = TimeSpan.FromSeconds(Math.Max(1, worker.ShutdownTimeoutSeconds));

        // Longer than Hangfire's own wait below, so the host never cuts the worker off before Hangfire gives up on it.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown + TimeSpan.FromSeconds(5));
        // Before any matrix product runs: its worker threads start at the first parallel product and are niced then.
        ComputePriority.Configure(worker.Nice);
        Engine.Kernels.Gemm.WorkerThreadStarted = ComputePriority.LowerCurrentThread;
        builder.Services.AddHostedService<ComputePriority.Logging>();
        builder.Services.AddSingleton<TrainingRegistry>();
        builder.Services.AddSingleton<JobEvents>();
        builder.Services.AddSingleton<LayerStatsRecorder>();
        builder.Services.AddSingleton<JobLifecycle>();
        builder.Services.AddSingleton<TrainingLeases>();
        builder.Services.AddSingleton<TrainingQueue>();
        builder.Services.AddSingleton<TrainingMetrics>();
        builder.Services.TryAddSingleton(TimeProvider.System);

        // This container's own storage and activator: Hangfire's defaults are process-wide statics, which two hosts in
        // one process (the tests') would share. The service database is the record of every job (TrainingRecovery).
        builder.Services.AddSingleton<JobStorage>(sp => HangfireStorage.Create(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<StorageOptions>>().Value, worker));
        builder.Services.AddSingleton<JobActivator>(sp => new AspNetCoreJobActivator(sp.GetRequiredService<IServiceScopeFactory>()));
        builder.Services.AddHangfire(c => c
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings());
        builder.Services.AddHangfireServer(o =>
        {
            o.ServerName = SchedulerHealthCheck.ServerName(worker);
            o.WorkerCount = Math.Max(1, worker.Concurrency);
            // A stop cancels running jobs' tokens at once (they stop at the next batch and store nothing more), then
            // waits for them to leave the database consistent; they continue from their last checkpoint at the next start.
            o.StopTimeout = TimeSpan.Zero;
            o.ShutdownTimeout = shutdown;
            o.CancellationCheckInterval = TimeSpan.FromSeconds(1);
            // A run that finds another node's lease comes back when it may have expired (TrainingJob.RunAsync).
            o.SchedulePollingInterval = TimeSpan.FromSeconds(Math.Clamp(worker.LeaseSeconds / 4, 1, 15));
        });
        builder.Services.AddHostedService<TrainingRecovery>();
        builder.Services.AddHostedService<JobEventRelay>();
        builder.Services.AddHostedService<SubscriptionCatchUp>();
        builder.Services.AddHealthChecks().AddCheck<SchedulerHealthCheck>("scheduler");
        builder.Services.AddSignalR().AddJsonProtocol(o => ApiJson.Configure(o.PayloadSerializerOptions));
        // SignalR's own manager (the Redis backplane with ConnectionStrings:Redis), wrapped to hand JobEvents the
        // connections it writes pre-serialized events to.
        bool redis = !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(Cluster.ClusterExtensions.RedisConnectionName));
        builder.Services.AddSingleton(sp => new HubConnections(redis
            ? ActivatorUtilities.CreateInstance<RedisHubLifetimeManager<TrainingHub>>(sp)
            : ActivatorUtilities.CreateInstance<DefaultHubLifetimeManager<TrainingHub>>(sp)));
        builder.Services.AddSingleton<HubLifetimeManager<TrainingHub>>(sp => sp.GetRequiredService<HubConnections>());
        return builder;
    }
}
