using System.Diagnostics;
using System.Globalization;
using Shared;

namespace Bench;

/// <summary>
/// `bench cluster [jobs]`: the same batch of short jobs (8 by default) on one node, then on two nodes sharing one
/// PostgreSQL and one Redis, in one run; jobs per minute and the ratio. Each node is pinned to its own core (taskset,
/// DOTNET_PROCESSOR_COUNT=1), as nodes on separate machines would each have their own cores; the single node gets one
/// core too, so the ratio measures what a second node adds.
/// </summary>
internal static class ClusterBench
{
    public static void Run(string[] args)
    {
        int jobs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 8;
        if (Environment.ProcessorCount < 2)
        {
            Console.WriteLine("needs 2 cores: one per node");
            return;
        }
        RunAsync(jobs).GetAwaiter().GetResult();
    }

    private static async Task RunAsync(int jobs)
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var redis = await RedisServer.StartAsync();
        double one = await JobsPerMinuteAsync(postgres, redis, nodes: 1, jobs);
        double two = await JobsPerMinuteAsync(postgres, redis, nodes: 2, jobs);
        Console.WriteLine($"1 node : {one,6:F1} jobs/min");
        Console.WriteLine($"2 nodes: {two,6:F1} jobs/min");
        Console.WriteLine($"ratio  : {two / one:F2}x (goal 1.8x)");
    }

    private static async Task<double> JobsPerMinuteAsync(PostgresServer postgres, RedisServer redis, int nodes, int jobs)
    {
        var dataDir = Directory.CreateTempSubdirectory("bench-cluster-").FullName;
        var settings = new Dictionary<string, string>
        {
            ["Storage:Provider"] = "postgres",
            ["ConnectionStrings:Postgres"] = postgres.CreateDatabase("bench"),
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["Training:QueuePollIntervalSeconds"] = "1",
            ["Training:Nice"] = "0",
        };
        var hosts = new List<ServiceHost>();
        try
        {
            for (int i = 0; i < nodes; i++)
                hosts.Add(await ServiceHost.StartAsync(new Dictionary<string, string>(settings) { ["Training:NodeId"] = $"bench-{i}" }, dataDir, core: i));
            var submit = hosts[0];
            long dataset = await submit.CreateSpiralsAsync(4000);
            CreateJobRequest Job(int epochs) => new(Spec: ServiceHost.SmallSpec, DatasetId: dataset, ValidationSplit: 0.2f, Epochs: epochs,
                BatchSize: 32, Seed: 1, Optimizer: new OptimizerSpec(OptimizerKind.Adam, 0.01f));
            // One warm-up job per node (JIT, EF queries), not timed.
            var warm = new List<long>();
            for (int i = 0; i < nodes; i++) warm.Add(await submit.CreateJobAsync(Job(1)));
            foreach (var id in warm) await submit.WaitForStatusAsync(id, JobStatus.Succeeded);
            foreach (var h in hosts) await h.SettleAsync(TimeSpan.FromSeconds(20));

            var clock = Stopwatch.StartNew();
            var ids = new List<long>();
            for (int i = 0; i < jobs; i++) ids.Add(await submit.CreateJobAsync(Job(20)));
            foreach (var id in ids) await submit.WaitForStatusAsync(id, JobStatus.Succeeded);
            return jobs / clock.Elapsed.TotalMinutes;
        }
        finally
        {
            foreach (var h in hosts) await h.DisposeAsync();
            try { Directory.Delete(dataDir, recursive: true); }
            catch (IOException) { }
        }
    }
}
