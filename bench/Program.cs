// Benchmarks, one per argument: `dotnet run -c Release --project bench -- <name> [args]`.
Console.WriteLine("usage: bench <name>; no benchmarks are registered yet");
