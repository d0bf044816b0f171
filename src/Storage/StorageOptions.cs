namespace Storage;

/// <summary>The <c>Storage</c> configuration section.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary><c>sqlite</c> (the default: one node, files under <see cref="DataDirectory"/>) or <c>postgres</c>
    /// (<c>ConnectionStrings:Postgres</c>; several nodes sharing the database and <see cref="DataDirectory"/>).</summary>
    public string Provider { get; set; } = Sqlite;

    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary>ConnectionStrings:Postgres in Npgsql's form, read from the configuration root by AddStorage.</summary>
    public string? PostgresConnectionString { get; set; }

    public bool IsPostgres => string.Equals(Provider, Postgres, StringComparison.OrdinalIgnoreCase);

    /// <summary>Holds the SQLite files, the data set and checkpoint files and upload temp files. Relative paths start at the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>How long a statement waits for another writer's lock before failing (SQLite busy timeout).</summary>
    public int BusyTimeoutSeconds { get; set; } = 30;

    /// <summary>Largest accepted dataset upload (all parts together); larger requests get 413.</summary>
    public long MaxUploadBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>
    /// Most bytes an IDX or NPY file may declare or expand to after gzip decompression; a gzip bomb is
    /// refused with 413 at its header (or as soon as it passes this), before its data is held in memory.
    /// </summary>
    public long MaxDecompressedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Uploads parsed at once; each may hold up to 4 × MaxDecompressedBytes of floats while it is parsed, so this bounds
    /// the memory uploads can take together. More are answered 429 with Retry-After.
    /// </summary>
    public int MaxConcurrentUploads { get; set; } = 2;

    /// <summary>Most classes an uploaded data set's integer labels may name (NPY; IDX labels are bytes, CSV stops at 10,000).</summary>
    public int MaxClasses { get; set; } = 65_536;
}

/// <summary>Absolute locations derived from <see cref="StorageOptions"/>, fixed at start-up.</summary>
public sealed class StoragePaths
{
    public StoragePaths(StorageOptions options)
    {
        Root = Path.GetFullPath(options.DataDirectory);
        Database = Path.Combine(Root, "service.db");
        Datasets = Path.Combine(Root, "datasets");
        Checkpoints = Path.Combine(Root, CheckpointsFolder);
        Temp = Path.Combine(Root, "tmp");
    }

    public string Root { get; }
    public string Database { get; }
    /// <summary>
    /// The job store of the scheduler earlier versions used; nothing reads it now (the service database is the record
    /// of every job), so start-up deletes it.
    /// </summary>
    internal string RetiredSchedulerDatabase => Path.Combine(Root, "scheduler.db");
    public string Datasets { get; }
    /// <summary>Checkpoint states, one folder per job (<see cref="CheckpointFiles"/>).</summary>
    public string Checkpoints { get; }
    internal const string CheckpointsFolder = "checkpoints";
    /// <summary>Uploads are written here first and moved into <see cref="Datasets"/> only once they load.</summary>
    public string Temp { get; }

    /// <summary>Absolute path of a data set or checkpoint file stored relative to <see cref="Root"/>.</summary>
    public string Resolve(string relative) => Path.Combine(Root, relative);
}
