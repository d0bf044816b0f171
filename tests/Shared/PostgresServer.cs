namespace Shared;

/// <summary>
/// A throw-away PostgreSQL server from Debian's <c>postgresql</c> package: initdb into a temp folder, pg_ctl start on a
/// free loopback port with its unix socket in the same folder, as a non-root user (PostgreSQL refuses root; under root
/// the tests run it as <c>nobody</c>). Trust authentication on loopback only. Disposing stops it and deletes the folder.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string InstallHint = "PostgreSQL is not installed: apt-get update && apt-get install -y postgresql";
    private const string Superuser = "postgres";

    private readonly string _bin;
    private readonly string? _runAs;
    private int _databases;

    private PostgresServer(string bin, string folder, int port, string? runAs) => (_bin, Folder, Port, _runAs) = (bin, folder, port, runAs);

    /// <summary>The temp folder holding the cluster (data/), its socket and its log.</summary>
    public string Folder { get; }
    public int Port { get; }
    private string DataDirectory => Path.Combine(Folder, "data");
    public string LogFile => Path.Combine(Folder, "postgres.log");

    /// <summary>The highest installed major version's bin folder, or null.</summary>
    public static string? FindBinaries() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Where(d => File.Exists(Path.Combine(d, "bin", "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                .Select(d => Path.Combine(d, "bin")).FirstOrDefault()
            : null;

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBinaries() ?? throw new InvalidOperationException(InstallHint);
        var folder = Directory.CreateTempSubdirectory("pg-").FullName;
        string? runAs = ChildProcesses.IsRoot ? "nobody" : null;
        if (runAs is not null) ChildProcesses.Run("chown", ["-R", $"{runAs}:", folder]);
        var server = new PostgresServer(bin, folder, ChildProcesses.FreePort(), runAs);
        try
        {
            await Task.Run(server.InitAndStart);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private void InitAndStart()
    {
        ChildProcesses.Run(Path.Combine(_bin, "initdb"),
            ["-D", DataDirectory, "-U", Superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], _runAs);
        // Durability is not under test here; fsync off keeps the shared machine's disk quiet.
        string options = $"-c listen_addresses=127.0.0.1 -p {Port} -k {Folder} -c fsync=off -c synchronous_commit=off -c max_connections=200";
        ChildProcesses.Run(Path.Combine(_bin, "pg_ctl"), ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", options], _runAs);
    }

    /// <summary>An Npgsql connection string for <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username={Superuser};Pooling=true;Include Error Detail=true";

    /// <summary>Creates a new empty database and returns its connection string.</summary>
    public string CreateDatabase(string prefix = "test")
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databases)}";
        Psql("postgres", $"CREATE DATABASE \"{name}\"");
        return ConnectionString(name);
    }

    /// <summary>Runs SQL through psql and returns its unaligned, tuples-only output (one row a line, fields split by |).</summary>
    public string Psql(string database, string sql) =>
        ChildProcesses.Run("psql", ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", Superuser, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]).Trim();

    /// <summary>The database name in a connection string made by <see cref="CreateDatabase"/>.</summary>
    public static string DatabaseOf(string connectionString) =>
        connectionString.Split(';').Select(p => p.Split('=', 2)).First(p => p[0] == "Database")[1];

    public ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
                ChildProcesses.Run(Path.Combine(_bin, "pg_ctl"), ["stop", "-D", DataDirectory, "-m", "immediate", "-w"], _runAs);
        }
        finally
        {
            try
            {
                Directory.Delete(Folder, recursive: true);
            }
            catch (IOException)
            {
                // The OS temp folder is cleaned eventually.
            }
        }
        return ValueTask.CompletedTask;
    }
}
