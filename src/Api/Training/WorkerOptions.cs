namespace Api.Training;

/// <summary>The <c>Training</c> configuration section.</summary>
public sealed class WorkerOptions
{
    public const string Section = "Training";

    /// <summary>Jobs that train at once. Default 1: the engine already spreads one job over every core.</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>Checkpoints kept per job besides the best one: the most recent K.</summary>
    public int KeepCheckpoints { get; set; } = 3;

    /// <summary>Least time between two BatchProgress events of one job.</summary>
    public int BatchProgressIntervalMs { get; set; } = 250;

    /// <summary>
    /// Events queued for one SignalR connection; a connection that lets this many pile up (a client that stopped
    /// reading) is closed, so training never waits on it. Must hold a replay (<see cref="HubReplayEpochs"/>).
    /// </summary>
    public int HubQueueLength { get; set; } = 4096;

    /// <summary>
    /// Several nodes only: how often a node compares its hub subscribers with the database and sends what they missed
    /// (events another node stored but was killed before publishing; <see cref="SubscriptionCatchUp"/>).
    /// </summary>
    public int HubCatchUpSeconds { get; set; } = 5;

    /// <summary>Epochs Subscribe replays: the last this many, after a HistoryTruncated event; GET /jobs/{id}/metrics has them all.</summary>
    public int HubReplayEpochs { get; set; } = 1000;

    /// <summary>Most rows one predict request may carry.</summary>
    public int MaxPredictRows { get; set; } = 10_000;

    /// <summary>
    /// How long the host waits at shutdown (SIGTERM, Ctrl+C) for running jobs to stop at their next batch
    /// before it gives up on them; set as HostOptions.ShutdownTimeout so the host does not cut the worker off earlier.
    /// </summary>
    public int ShutdownTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Linux nice value (0 to 19) of the threads that train, so requests win the cores while a job trains
    /// (<see cref="ComputePriority"/>); 0 leaves them at the service's own priority. Ignored elsewhere.
    /// </summary>
    public int Nice { get; set; } = 10;

    /// <summary>
    /// This node's name in job leases (<see cref="TrainingLeases"/>): unique per node sharing a database and the same
    /// across its restarts, so a restarted node frees the leases its killed process held. Default: the machine name.
    /// </summary>
    public string NodeId { get; set; } = Environment.MachineName;

    /// <summary>
    /// How long a job's lease outlives its last renewal (every epoch, and every third of this while an epoch trains);
    /// another node may take over a job whose node stopped renewing for this long.
    /// </summary>
    public int LeaseSeconds { get; set; } = 60;

    /// <summary>
    /// PostgreSQL only (Hangfire.PostgreSql): how long after a node's last heartbeat its fetched job becomes visible to the
    /// other nodes again, so one of them runs it after the node died. Keep it above <see cref="LeaseSeconds"/>; a run
    /// that still finds the dead node's lease comes back when the lease expires.
    /// </summary>
    public int InvisibilityTimeoutSeconds { get; set; } = 300;

    /// <summary>PostgreSQL only: how often an idle worker polls the queue besides being woken by an enqueue (long polling).</summary>
    public int QueuePollIntervalSeconds { get; set; } = 5;
}
