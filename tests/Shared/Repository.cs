namespace Shared;

/// <summary>The checkout the tests and benches run from.</summary>
public static class Repository
{
    /// <summary>The folder holding Service.sln, found upward from the running binaries.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Service.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Service.sln not found above " + AppContext.BaseDirectory);
    }
}
