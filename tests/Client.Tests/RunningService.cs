using System.Globalization;
using System.Text;

namespace Client.Tests;

/// <summary>One service process on a fresh data folder, shared by the tests of a class, and a client with its admin key.</summary>
public sealed class RunningService : IAsyncLifetime
{
    private readonly DataFolder _folder = new();

    public ServiceProcess Process { get; private set; } = null!;
    public TrainingServiceClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Process = await ServiceProcess.StartAsync(_folder.Path);
        Client = Process.CreateClient();
    }

    public async Task DisposeAsync()
    {
        await Client.DisposeAsync();
        await Process.StopAsync();
        await Process.DisposeAsync();
        _folder.Dispose();
    }
}

/// <summary>The data, models and event collection the client tests share.</summary>
public static class Flow
{
    /// <summary>
    /// A two-feature, two-class CSV table with a header: the label says whether x1 + x2 is positive, so a small MLP
    /// learns it within a few epochs.
    /// </summary>
    public static string Csv(int rows, int seed = 3)
    {
        var random = new Random(seed);
        var text = new StringBuilder("x1,x2,label\n");
        for (int i = 0; i < rows; i++)
        {
            double x1 = random.NextDouble() * 2 - 1, x2 = random.NextDouble() * 2 - 1;
            text.Append(CultureInfo.InvariantCulture, $"{x1:F4},{x2:F4},{(x1 + x2 > 0 ? 1 : 0)}\n");
        }
        return text.ToString();
    }

    public static ModelSpec Mlp(int inputs = 2, int hidden = 16, int outputs = 2, int depth = 1) => new(
        [inputs],
        [.. Enumerable.Range(0, depth).SelectMany(_ => new LayerSpec[] { new DenseSpec(hidden), new ReluSpec() }), new DenseSpec(outputs)],
        LossKind.SoftmaxCrossEntropy);

    /// <summary>Every event of a watch until it ends by itself (the job's final status).</summary>
    public static async Task<List<IJobEvent>> CollectAsync(this TrainingServiceClient client, long jobId, CancellationToken ct = default)
    {
        var events = new List<IJobEvent>();
        await foreach (var e in client.WatchAsync(jobId, ct)) events.Add(e);
        return events;
    }

    public static int[] Epochs(this IEnumerable<IJobEvent> events) => [.. events.OfType<EpochCompletedEvent>().Select(e => e.Epoch)];

    public static JobStatusChangedEvent FinalStatus(this IEnumerable<IJobEvent> events) => Assert.IsType<JobStatusChangedEvent>(events.Last());
}
