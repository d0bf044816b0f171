namespace Shared;

/// <summary>A temporary data folder, deleted at the end of the test.</summary>
public sealed class DataFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("service-data-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a process being reaped; the OS temp folder is cleaned eventually.
        }
    }
}
