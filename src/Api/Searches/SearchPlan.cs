using System.Text.Json;
using System.Text.Json.Nodes;
using Api.Infrastructure;

namespace Api.Searches;

/// <summary>
/// A search as decided at submission and stored with it: the base job (spec inline, epochs = maxEpochs), the rungs and
/// the rule's settings. Every decision reads it back; nothing in it changes afterwards.
/// </summary>
/// <param name="Rungs">Epochs trials report at, increasing, the last = maxEpochs (random and grid: only maxEpochs).</param>
internal sealed record SearchPlan(JsonObject BaseJob, Dictionary<string, SearchDimension> Space, SearchAlgorithm Algorithm, SearchMetric Metric, SearchMode Mode,
    int[] Rungs, int Eta, int MaxConcurrentTrials)
{
    public int MaxEpochs => Rungs[^1];

    public bool IsAsha => Algorithm == SearchAlgorithm.Asha;

    public string Write() => JsonSerializer.Serialize(this, ApiJson.Options);

    public static SearchPlan Read(string json) =>
        JsonSerializer.Deserialize<SearchPlan>(json, ApiJson.Options) ?? throw new InvalidDataException("The stored search plan is empty.");

    /// <summary>The trial's metric in an epoch's row; null when the row lacks it (no validation data).</summary>
    public double? ValueOf(Storage.Entities.EpochMetric m) => Metric switch
    {
        SearchMetric.ValAccuracy => m.ValAccuracy,
        SearchMetric.TrainLoss => m.TrainLoss,
        _ => m.ValLoss,
    };

    /// <summary>True when <paramref name="a"/> is strictly better than <paramref name="b"/>.</summary>
    public bool Better(double a, double b) => Mode == SearchMode.Max ? a > b : a < b;

    /// <summary>
    /// ASHA's rungs: <paramref name="rungs"/> as given, else minEpochs·eta^k while below maxEpochs; maxEpochs always last.
    /// Null, with the error keyed by field, when they do not make a ladder below maxEpochs.
    /// </summary>
    public static int[]? AshaRungs(int[]? rungs, int minEpochs, int eta, int maxEpochs, Dictionary<string, string[]> errors)
    {
        if (rungs is not null)
        {
            if (rungs.Length is 0 or > 20) errors["rungs"] = ["must list 1 to 20 epochs"];
            else if (rungs[0] < 1) errors["rungs"] = ["epochs start at 1"];
            else if (rungs.Zip(rungs.Skip(1)).Any(p => p.Second <= p.First)) errors["rungs"] = ["must increase"];
            else if (rungs[^1] >= maxEpochs) errors["rungs"] = [$"must be below maxEpochs ({maxEpochs}), which is the last rung"];
            else return [.. rungs, maxEpochs];
            return null;
        }
        if (minEpochs < 1 || minEpochs >= maxEpochs)
        {
            errors["minEpochs"] = [$"must be at least 1 and below maxEpochs ({maxEpochs})"];
            return null;
        }
        var list = new List<int>();
        for (long r = minEpochs; r < maxEpochs; r *= eta) list.Add((int)r);
        list.Add(maxEpochs);
        return [.. list];
    }
}
