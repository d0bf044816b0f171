// Benchmarks, one per argument: `dotnet run -c Release --project bench -- <name|all> [args]`.
using Bench;

var benchmarks = new (string Name, Action<string[]> Run)[]
{
    ("gemm", GemmBench.Run),
    ("mlp", MlpBench.Run),
    ("cnn", CnnBench.Run),
    ("diagnostics", DiagnosticsBench.Run),
    ("fuzz", FuzzBench.Run),
    ("service", ServiceBench.Run),
    ("stream", StreamBench.Run),
    ("api", ApiBench.Run),
    ("cluster", ClusterBench.Run),
    ("bomb", BombBench.Run),
};

string name = args.Length > 0 ? args[0] : "";
string[] rest = args.Length > 1 ? args[1..] : [];
var selected = benchmarks.Where(b => name == "all" || string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
if (selected.Count == 0)
{
    Console.Error.WriteLine($"usage: bench <{string.Join('|', benchmarks.Select(b => b.Name))}|all> [args]");
    return 2;
}
foreach (var (benchName, run) in selected)
{
    Console.WriteLine($"== {benchName} ==");
    run(rest);
    Console.WriteLine();
}
return 0;
