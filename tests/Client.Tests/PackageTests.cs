using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;

namespace Client.Tests;

/// <summary><c>dotnet pack src/Client</c>: the package a user installs.</summary>
public sealed class PackageTests
{
    [Fact]
    public async Task ThePackageCarriesTheAssemblyItsXmlDocsItsReadmeAndItsDependencies()
    {
        using var output = new DataFolder();
        // The build that made these tests also built src/Client in the same configuration: pack only packs it.
        var pack = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "pack", Path.Combine("src", "Client"), "-c", Repository.Configuration, "--no-build", "--no-restore", "-o", output.Path })
            pack.ArgumentList.Add(arg);
        using var process = Process.Start(pack)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"dotnet pack exited with {process.ExitCode}: {await stdout} {await stderr}");

        var nupkg = Assert.Single(Directory.GetFiles(output.Path, "*.nupkg"));
        Assert.StartsWith("TrainingService.Client.", Path.GetFileName(nupkg), StringComparison.Ordinal);
        using var zip = ZipFile.OpenRead(nupkg);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/TrainingService.Client.dll", entries);
        Assert.Contains("README.md", entries);

        using (var reader = new StreamReader(zip.GetEntry("README.md")!.Open()))
            Assert.Contains("TrainingServiceClient", await reader.ReadToEndAsync());
        using (var docs = zip.GetEntry("lib/net10.0/TrainingService.Client.xml")!.Open())
        {
            var members = XDocument.Load(docs).Descendants("member").Select(m => (string)m.Attribute("name")!).ToList();
            Assert.Contains(members, m => m.StartsWith("M:TrainingService.Client.TrainingServiceClient.WatchAsync", StringComparison.Ordinal));
            Assert.Contains("T:TrainingService.Client.TrainingServiceException", members);
        }

        var nuspecEntry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var nuspecStream = nuspecEntry.Open();
        var nuspec = XDocument.Load(nuspecStream);
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal("README.md", (string?)metadata.Element(ns + "readme"));
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).ToList();
        Assert.Contains("TrainingService.Contracts", dependencies);
        Assert.Contains("Microsoft.AspNetCore.SignalR.Client", dependencies);
        // What the issue rules out: the client does not drag in the server, EF Core or the engine.
        Assert.DoesNotContain(dependencies, d => d.StartsWith("Microsoft.EntityFrameworkCore", StringComparison.Ordinal) || d is "Api" or "Engine" or "Storage");
    }
}
