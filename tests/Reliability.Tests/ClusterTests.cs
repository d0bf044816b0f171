using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.SignalR.Client;
using TrainingService.Client;
using TrainingService.Contracts;
using Xunit.Abstractions;

namespace Reliability.Tests;

/// <summary>One PostgreSQL and one Redis server, started on loopback for the cluster tests and removed after them.</summary>
public sealed class ClusterServers : IAsyncLifetime
{
    public PostgresServer Postgres { get; private set; } = null!;
    public RedisServer Redis { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Postgres = await PostgresServer.StartAsync();
        Redis = await RedisServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (Redis is not null) await Redis.DisposeAsync();
        if (Postgres is not null) await Postgres.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterServers>, ICollectionFixture<ReferenceRun>
{
    public const string Name = "cluster";
}

/// <summary>
/// Two real service processes (two ports, two node ids) sharing one PostgreSQL database, one Redis and one data folder:
/// the issue's proof that jobs spread over the nodes, survive the loss of a node and stream to subscribers on any node.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTests(ClusterServers servers, ReferenceRun reference, ITestOutputHelper output)
{
    private const string HeldLine = "training from epoch";

    private sealed class Cluster(DataFolder folder, Func<string, Dictionary<string, string>> settings) : IAsyncDisposable
    {
        private readonly Dictionary<string, ServiceProcess> _nodes = [];
        private readonly List<ServiceProcess> _replaced = [];
        public ServiceProcess A => _nodes["node-a"];
        public ServiceProcess B => _nodes["node-b"];
        public ServiceProcess[] Nodes => [.. _nodes.Values];
        public string DatabaseName => PostgresServer.DatabaseOf(settings("")["ConnectionStrings:Postgres"]);

        /// <summary>Starts (or, after a kill, starts again) the node of that id on the shared folder, database and Redis.</summary>
        public async Task<ServiceProcess> StartAsync(string node)
        {
            if (_nodes.Remove(node, out var old)) _replaced.Add(old);
            return _nodes[node] = await ServiceProcess.StartAsync(folder.Path, settings(node));
        }

        public string NodeOf(ServiceProcess process) => _nodes.Single(n => n.Value == process).Key;

        public async ValueTask DisposeAsync()
        {
            foreach (var node in _nodes.Values) await node.StopAsync();
            foreach (var node in _nodes.Values.Concat(_replaced)) await node.DisposeAsync();
            folder.Dispose();
        }
    }

    private async Task<Cluster> StartClusterAsync(IReadOnlyDictionary<string, string>? extra = null)
    {
        var folder = new DataFolder();
        var database = servers.Postgres.CreateDatabase("cluster");
        Dictionary<string, string> Settings(string node) => new(extra ?? new Dictionary<string, string>())
        {
            ["Storage:Provider"] = "postgres",
            ["ConnectionStrings:Postgres"] = database,
            ["ConnectionStrings:Redis"] = servers.Redis.ConnectionString,
            ["Training:NodeId"] = node,
            // Short, so a killed node's job moves within seconds: the lease is renewed every third of this.
            ["Training:LeaseSeconds"] = "4",
            ["Training:InvisibilityTimeoutSeconds"] = "8",
            ["Training:QueuePollIntervalSeconds"] = "1",
        };
        var cluster = new Cluster(folder, Settings);
        // One after the other: the first creates the schema and admin.key, which the second then shares.
        await cluster.StartAsync("node-a");
        await cluster.StartAsync("node-b");
        return cluster;
    }

    /// <summary>The nodes whose log says they trained the job (the line a run writes once it holds the lease).</summary>
    private static ServiceProcess[] Trainers(Cluster cluster, long id) =>
        [.. cluster.Nodes.Where(n => n.Log.Contains($"Job {id} {HeldLine}", StringComparison.Ordinal))];

    /// <summary>A SignalR subscriber on one node, keeping each job's epochs in arrival order and its last status.</summary>
    private sealed class Subscriber : IAsyncDisposable
    {
        private readonly HubConnection _connection;
        public ConcurrentDictionary<long, List<int>> Epochs { get; } = new();
        public ConcurrentDictionary<long, string> Status { get; } = new();

        private Subscriber(HubConnection connection) => _connection = connection;

        public static async Task<Subscriber> ConnectAsync(ServiceProcess node)
        {
            var key = node.ApiKey;
            var connection = new HubConnectionBuilder()
                .WithUrl(new Uri(node.Address, "/hubs/training"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(key))
                .Build();
            var subscriber = new Subscriber(connection);
            connection.On<JsonElement>("EpochCompleted", e =>
            {
                var list = subscriber.Epochs.GetOrAdd(e.GetProperty("jobId").GetInt64(), _ => []);
                lock (list) list.Add(e.GetProperty("epoch").GetInt32());
            });
            connection.On<JsonElement>("JobStatusChanged", e =>
                subscriber.Status[e.GetProperty("jobId").GetInt64()] = e.GetProperty("status").GetString()!);
            await connection.StartAsync();
            return subscriber;
        }

        public Task SubscribeAsync(long id) => _connection.InvokeAsync("Subscribe", id);

        public int[] EpochsOf(long id)
        {
            var list = Epochs.GetOrAdd(id, _ => []);
            lock (list) return [.. list];
        }

        /// <summary>Waits for the job's final status event, which the node sends after the last epoch's.</summary>
        public async Task WaitForStatusAsync(long id, string status)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            while (Status.GetValueOrDefault(id) != status)
            {
                if (DateTime.UtcNow > deadline) Assert.Fail($"no {status} event for job {id}; last {Status.GetValueOrDefault(id)}");
                await Task.Delay(50);
            }
        }

        public ValueTask DisposeAsync() => _connection.DisposeAsync();
    }

    [Fact]
    public async Task JobsSubmittedToOneNodeAreTrainedOnceEachByBothNodesAndStreamToTheOtherNode()
    {
        await using var cluster = await StartClusterAsync();
        await using var subscriber = await Subscriber.ConnectAsync(cluster.B);

        // Back to back on node A, one worker per node: the second is queued while A's worker holds the first.
        long first = await cluster.A.Client.SubmitStandardJobAsync();
        long second = await cluster.A.Client.SubmitStandardJobAsync();
        await subscriber.SubscribeAsync(first);
        await subscriber.SubscribeAsync(second);

        foreach (var id in new[] { first, second })
        {
            var job = await cluster.A.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed");
            Assert.True(job.Status() == "succeeded", $"{job}\nA:\n{cluster.A.Log}\nB:\n{cluster.B.Log}");
            Assert.Equal(1, job.GetProperty("attempts").GetInt32());
            Assert.Equal(Enumerable.Range(1, Api.Epochs), await cluster.B.Client.MetricEpochsAsync(id));
            await subscriber.WaitForStatusAsync(id, "succeeded");
            // Every epoch once and in order on node B, whichever node trained it.
            Assert.Equal(Enumerable.Range(1, Api.Epochs), subscriber.EpochsOf(id));
        }

        var trainers = new[] { first, second }.Select(id => Trainers(cluster, id)).ToArray();
        Assert.All(trainers, t => Assert.Single(t));
        Assert.NotSame(trainers[0][0], trainers[1][0]);
        output.WriteLine($"job {first} on {trainers[0][0].Address}, job {second} on {trainers[1][0].Address}");
        // Each job's weights are the single-node reference's: the node it ran on changes nothing.
        Assert.Equal(Api.TensorData(reference.Weights), Api.TensorData(await cluster.A.Client.WeightsAsync(first)));
    }

    [Fact]
    public async Task AnAshaSearchIsSharedByBothNodesAndEachPromotedTrialEndsLikeAnUninterruptedJob()
    {
        await using var cluster = await StartClusterAsync();
        using var api = cluster.A.Client.Typed();
        var dataset = await api.CreateSyntheticDatasetAsync(new CreateSyntheticDatasetRequest("spirals", SyntheticKind.Spirals, 600, Classes: 3, Seed: 42, Noise: 0.2f));
        var space = new Dictionary<string, SearchDimension>
        {
            ["optimizer.learningRate"] = new("loguniform", 0.0003, 0.3),
            ["layers[0].units"] = new("choice", Values: [JsonSerializer.SerializeToElement(16), JsonSerializer.SerializeToElement(32)]),
        };
        var baseJob = new CreateJobRequest(Spec: Api.StandardSpec(hidden: 32), DatasetId: dataset.Id, ValidationSplit: 0.2f, BatchSize: 16, Seed: 7);
        var search = await api.SubmitSearchAsync(new CreateSearchRequest(BaseJob: baseJob, Space: space, MaxTrials: 9, MaxEpochs: 9,
            Algorithm: SearchAlgorithm.Asha, Eta: 3, Seed: 11, MaxConcurrentTrials: 2));
        using var reader = cluster.B.Client.Typed();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (search.Status == SearchStatus.Running)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"search {search.Id} did not finish\nA:\n{cluster.A.Log}\nB:\n{cluster.B.Log}");
            await Task.Delay(200);
            // Read from the other node: the decisions are in the shared database, wherever they were made.
            search = await reader.GetSearchAsync(search.Id);
        }

        Assert.Equal(SearchStatus.Succeeded, search.Status);
        Assert.All(search.Trials, t => Assert.Contains(t.Status, new[] { "succeeded", "pruned" }));
        foreach (var trial in search.Trials)
        {
            // Each rung's run reported once: one start per rung reached, every epoch stored once and in order.
            var job = await api.GetJobAsync(trial.JobId!.Value);
            Assert.Equal(trial.Results.Length, job.Attempts);
            Assert.Equal(Enumerable.Range(1, trial.Epoch), await cluster.B.Client.MetricEpochsAsync(job.Id));
            output.WriteLine($"trial {trial.Index} ({job.Status}, {trial.Epoch} epochs) trained on {string.Join(", ", Trainers(cluster, job.Id).Select(n => cluster.NodeOf(n)))}");
        }
        var finished = search.Trials.Where(t => t.Status == "succeeded").ToList();
        Assert.NotEmpty(finished);
        foreach (var trial in finished)
        {
            // Paused at epochs 1 and 3, maybe continued on the other node: still the uninterrupted run's weights.
            var job = await api.GetJobAsync(trial.JobId!.Value);
            var o = job.Options;
            var plain = await api.SubmitJobAsync(new CreateJobRequest(Spec: job.Spec, DatasetId: dataset.Id, ValidationSplit: o.ValidationSplit,
                Optimizer: o.Optimizer, Epochs: o.Epochs, BatchSize: o.BatchSize, Seed: o.Seed, WeightDecay: o.WeightDecay));
            var done = await cluster.A.Client.WaitForStatusAsync(plain.Id, TimeSpan.FromMinutes(3), "succeeded", "failed");
            Assert.Equal("succeeded", done.Status());
            Assert.Equal(Api.TensorData(await cluster.A.Client.WeightsAsync(plain.Id)), Api.TensorData(await cluster.B.Client.WeightsAsync(job.Id)));
        }
    }

    [Theory]
    // Right after an epoch (and its checkpoint) is recorded: the next epoch has just started.
    [InlineData(2, 0.0)]
    // A random moment inside the next epoch (a random fraction of the last epoch's duration).
    [InlineData(4, 1.0)]
    // As soon as the last epoch is recorded: while the job is being marked finished, or just after.
    [InlineData(Api.Epochs, 0.0)]
    public async Task KilledTrainingNodeJobIsTakenOverFromItsLastCheckpointAndEndsBitIdentical(int afterEpoch, double maxEpochFraction)
    {
        await using var cluster = await StartClusterAsync();
        long id = await cluster.A.Client.SubmitStandardJobAfterWarmUpAsync();
        var subscribers = new Dictionary<ServiceProcess, Subscriber>();
        foreach (var node in cluster.Nodes) subscribers[node] = await Subscriber.ConnectAsync(node);
        try
        {
            foreach (var s in subscribers.Values) await s.SubscribeAsync(id);
            int delay = await cluster.A.Client.WaitForKillPointAsync(id, afterEpoch, maxEpochFraction);
            var trainer = Assert.Single(Trainers(cluster, id));
            var survivor = cluster.Nodes.Single(n => n != trainer);
            await trainer.KillAsync();
            var state = servers.Postgres.Psql(cluster.DatabaseName, $"SELECT \"Status\", \"CurrentEpoch\" FROM \"Jobs\" WHERE \"Id\" = {id}").Split('|');
            var (statusAtKill, epochAtKill) = (state[0], int.Parse(state[1], CultureInfo.InvariantCulture));
            var killedLog = trainer.Log;
            // The killed node comes back, as a supervisor would restart it: both nodes may now reach for the job.
            var restarted = await cluster.StartAsync(cluster.NodeOf(trainer));
            using var keep = survivor.KeepLogOnExit($"cluster-crash-after-epoch-{afterEpoch}",
                $"killed {delay} ms after epoch {afterEpoch} was recorded ({statusAtKill}, epoch {epochAtKill} stored then)\n== killed node\n{killedLog}\n== survivor");
            using var keepRestarted = restarted.KeepLogOnExit($"cluster-crash-after-epoch-{afterEpoch}-restarted");
            output.WriteLine($"killed {trainer.Address} {delay} ms after epoch {afterEpoch} ({statusAtKill}, epoch {epochAtKill} stored); {survivor.Address} remains");

            // The outcome users rely on first: succeeded, every epoch once and in order, the uninterrupted run's weights,
            // and a subscriber on the surviving node saw every epoch once, in order.
            var job = await survivor.Client.WaitForStatusAsync(id, TimeSpan.FromMinutes(3), "succeeded", "failed", "cancelled");
            Assert.True(job.Status() == "succeeded", $"{job}\nsurvivor:\n{survivor.Log}\nkilled:\n{killedLog}\nrestarted:\n{restarted.Log}");
            Assert.Equal(Enumerable.Range(1, Api.Epochs), await survivor.Client.MetricEpochsAsync(id));
            Assert.Equal(Api.TensorData(reference.Weights), Api.TensorData(await survivor.Client.WeightsAsync(id)));
            var watching = subscribers[survivor];
            await watching.WaitForStatusAsync(id, "succeeded");
            Assert.Equal(Enumerable.Range(1, Api.Epochs), watching.EpochsOf(id));

            // Then the mechanism: a job the database still called running was taken over by exactly one node, from the
            // checkpoint of the last epoch stored before the kill (never from scratch); a finished one was left alone.
            var resumes = new[] { survivor, restarted }.SelectMany(n => ResumedFrom(n, id)).ToList();
            if (statusAtKill == "Succeeded")
            {
                Assert.Empty(resumes);
            }
            else
            {
                Assert.Equal("Running", statusAtKill);
                Assert.Equal([epochAtKill], resumes);
                Assert.InRange(epochAtKill, afterEpoch, Api.Epochs);
            }
        }
        finally
        {
            foreach (var s in subscribers.Values) await s.DisposeAsync();
        }
    }

    private static IEnumerable<int> ResumedFrom(ServiceProcess node, long id) =>
        Regex.Matches(node.Log, $@"Job {id} training from epoch (\d+) of").Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));

    [Fact]
    public async Task EightClientsOnTwoNodesWhileJobsKeepTrainingGetNo5xxAndEveryJobTrainsEachEpochOnceToTheSameWeights()
    {
        await using var cluster = await StartClusterAsync(LoadSoak.Settings);
        using var keepA = cluster.A.KeepLogOnExit("cluster-soak-load-node-a");
        using var keepB = cluster.B.KeepLogOnExit("cluster-soak-load-node-b");
        await new LoadSoak(cluster.Nodes, output).RunAsync(
            "deadlock detected", "could not serialize access", "remaining connection slots", "too many clients", "RedisConnectionException");
    }

    [Fact]
    public async Task KeyRevokedOnOneNodeIsRefusedByTheOtherBeforeItsCacheExpires()
    {
        await using var cluster = await StartClusterAsync();
        var created = await (await cluster.A.Client.PostAsJsonAsync("/keys", new { owner = "carol" })).ReadJsonAsync();
        using var carolOnB = new HttpClient { BaseAddress = cluster.B.Address };
        carolOnB.DefaultRequestHeaders.Add("X-Api-Key", created.GetProperty("key").GetString());
        // Node B has verified, and so cached, the key.
        Assert.Equal(HttpStatusCode.OK, (await carolOnB.GetAsync("/jobs")).StatusCode);

        var revoked = await cluster.A.Client.DeleteAsync($"/keys/{created.GetProperty("id").GetInt64()}");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);

        // Node B's cache would keep the key for 30 s (ApiKeyCache.Lifetime); the Redis message clears it well before.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        HttpStatusCode status;
        while ((status = (await carolOnB.GetAsync("/jobs")).StatusCode) == HttpStatusCode.OK && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("was revoked on another node", cluster.B.Log, StringComparison.Ordinal);
    }
}
