using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Api.Infrastructure;
using Engine.Tensors;

namespace Api.Searches;

/// <summary>
/// A search space checked against its base job: each dimension's path, type and range. Trials are drawn from it by
/// <see cref="Sample"/> with a seeded generator in a fixed order (trial by trial, dimensions in the ordinal order of
/// their paths), so the same request always yields the same trials.
/// </summary>
internal sealed partial class SearchSpace
{
    public const int MaxDimensions = 16;
    public const int MaxChoices = 100;

    private static readonly string[] TopLevel = ["weightDecay", "clipNorm", "batchSize"];
    private static readonly string[] OptimizerFields = ["type", "learningRate", "momentum", "beta1", "beta2", "epsilon"];

    private SearchSpace(IReadOnlyList<Dimension> dimensions) => Dimensions = dimensions;

    public IReadOnlyList<Dimension> Dimensions { get; }

    /// <param name="Path">As given: <c>optimizer.learningRate</c>, <c>layers[0].units</c>.</param>
    /// <param name="Target">Where it lands in the job request's JSON: <c>optimizer.learningRate</c>, <c>spec.layers[0].units</c>.</param>
    internal sealed record Dimension(string Path, string[] Target, string Type, double Min, double Max, JsonElement[] Values)
    {
        /// <summary>The values a grid enumerates: the choices, or every whole number of an int range.</summary>
        public JsonElement[] GridValues() => Type == "choice" ? Values
            : [.. Enumerable.Range((int)Min, (int)(Max - Min) + 1).Select(v => JsonSerializer.SerializeToElement(v))];

        public long GridSize => Type == "choice" ? Values.Length : (long)(Max - Min) + 1;
    }

    /// <summary>Checks every dimension against <paramref name="baseJob"/> (the normalized request as JSON); errors keyed <c>space[path].field</c>.</summary>
    public static SearchSpace Parse(Dictionary<string, SearchDimension>? space, JsonObject baseJob, Dictionary<string, string[]> errors)
    {
        var dimensions = new List<Dimension>();
        if (space is not { Count: > 0 and <= MaxDimensions })
        {
            errors["space"] = [$"must have 1 to {MaxDimensions} dimensions, keyed by path (optimizer.learningRate, layers[0].units, ...)"];
            return new SearchSpace(dimensions);
        }
        foreach (var (path, d) in space.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            string key = $"space[{path}]";
            var target = Target(path, baseJob, out var pathError);
            if (target is null)
            {
                errors[key] = [pathError!];
                continue;
            }
            if (d is null)
            {
                errors[key] = ["is required: {\"type\": \"loguniform\" | \"uniform\" | \"int\" | \"choice\", ...}"];
                continue;
            }
            var values = d.Values ?? [];
            double min = d.Min ?? double.NaN, max = d.Max ?? double.NaN;
            switch (d.Type)
            {
                case "loguniform" or "uniform":
                    if (!double.IsFinite(min)) errors[$"{key}.min"] = ["is required and must be a finite number"];
                    else if (!double.IsFinite(max)) errors[$"{key}.max"] = ["is required and must be a finite number"];
                    else if (d.Type == "loguniform" && min <= 0) errors[$"{key}.min"] = ["must be greater than 0 for loguniform"];
                    else if (max <= min) errors[$"{key}.max"] = [$"must be greater than min ({Format(min)})"];
                    if (d.Values is not null) errors[$"{key}.values"] = [$"only a choice dimension takes values; {d.Type} takes min and max"];
                    break;
                case "int":
                    if (!IsWhole(min)) errors[$"{key}.min"] = ["is required and must be a whole number"];
                    else if (!IsWhole(max)) errors[$"{key}.max"] = ["is required and must be a whole number"];
                    else if (max < min) errors[$"{key}.max"] = [$"must be at least min ({Format(min)})"];
                    else if (max - min >= int.MaxValue) errors[$"{key}.max"] = ["the range must hold fewer than 2^31 values"];
                    if (d.Values is not null) errors[$"{key}.values"] = ["only a choice dimension takes values; int takes min and max"];
                    break;
                case "choice":
                    if (values.Length is 0 or > MaxChoices) errors[$"{key}.values"] = [$"must list 1 to {MaxChoices} values"];
                    else if (values.FirstOrDefault(v => v.ValueKind is not (JsonValueKind.Number or JsonValueKind.String or JsonValueKind.True or JsonValueKind.False)) is { ValueKind: not JsonValueKind.Undefined } bad)
                        errors[$"{key}.values"] = [$"must be numbers, strings or booleans, not {bad.ValueKind.ToString().ToLowerInvariant()}"];
                    if (d.Min is not null || d.Max is not null) errors[$"{key}.min"] = ["a choice dimension takes values, not min and max"];
                    break;
                default:
                    errors[$"{key}.type"] = ["must be loguniform, uniform, int or choice"];
                    break;
            }
            dimensions.Add(new Dimension(path, target, d.Type ?? "", min, max, values));
        }
        return new SearchSpace(dimensions);
    }

    /// <summary>
    /// <paramref name="count"/> trials' parameters. Random: each trial draws every dimension in turn from one generator
    /// seeded with <paramref name="seed"/>. Grid: the cartesian product, the last dimension varying fastest.
    /// </summary>
    public List<Dictionary<string, JsonElement>> Sample(bool grid, int count, ulong seed)
    {
        var trials = new List<Dictionary<string, JsonElement>>();
        if (grid)
        {
            var axes = Dimensions.Select(d => d.GridValues()).ToArray();
            var index = new int[axes.Length];
            for (int t = 0; t < count; t++)
            {
                trials.Add(Dimensions.Select((d, i) => (d.Path, axes[i][index[i]])).ToDictionary(p => p.Path, p => p.Item2, StringComparer.Ordinal));
                for (int i = axes.Length - 1; i >= 0; i--)
                {
                    if (++index[i] < axes[i].Length) break;
                    index[i] = 0;
                }
            }
            return trials;
        }
        var rng = new Rng(seed);
        for (int t = 0; t < count; t++)
        {
            var trial = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var d in Dimensions)
            {
                trial[d.Path] = d.Type switch
                {
                    // Rounded to float32, the precision the job trains with, so the parameters shown are the ones used.
                    "loguniform" => Number((float)Math.Exp(Math.Log(d.Min) + rng.NextDouble() * (Math.Log(d.Max) - Math.Log(d.Min)))),
                    "uniform" => Number((float)(d.Min + rng.NextDouble() * (d.Max - d.Min))),
                    "int" => JsonSerializer.SerializeToElement((long)d.Min + rng.NextInt((int)(d.Max - d.Min) + 1)),
                    _ => d.Values[rng.NextInt(d.Values.Length)],
                };
            }
            trials.Add(trial);
        }
        return trials;
    }

    /// <summary>The base job with one trial's parameters written in; null (and errors keyed by dimension) when they do not bind.</summary>
    public CreateJobRequest? Apply(JsonObject baseJob, Dictionary<string, JsonElement> trial, Dictionary<string, string[]> errors, int index)
    {
        var job = (JsonObject)baseJob.DeepClone();
        foreach (var d in Dimensions)
        {
            JsonNode node = job;
            foreach (var step in d.Target[..^1]) node = int.TryParse(step, out int i) ? node[i]! : node[step]!;
            node[d.Target[^1]] = JsonNode.Parse(trial[d.Path].GetRawText());
        }
        try
        {
            return job.Deserialize<CreateJobRequest>(ApiJson.Options);
        }
        catch (JsonException e)
        {
            var dimension = Dimensions.FirstOrDefault(d => e.Path == JsonPath(d.Target))
                            ?? Dimensions.FirstOrDefault(d => e.Path?.EndsWith(d.Target[^1], StringComparison.Ordinal) == true);
            string key = dimension is null ? "space" : $"space[{dimension.Path}]";
            errors[key] = [$"trial {index} samples {(dimension is null ? "a value" : trial[dimension.Path].GetRawText())} that this field cannot take" +
                           (dimension?.Type == "uniform" || dimension?.Type == "loguniform" ? " (it takes whole numbers: use int or choice)" : "")];
            return null;
        }
    }

    /// <summary>Resolves a path against the base job, or says why it names nothing a search can set.</summary>
    private static string[]? Target(string path, JsonObject baseJob, out string? error)
    {
        error = null;
        if (TopLevel.Contains(path, StringComparer.Ordinal)) return [path];
        if (path.StartsWith("optimizer.", StringComparison.Ordinal) && OptimizerFields.Contains(path["optimizer.".Length..], StringComparer.Ordinal))
            return ["optimizer", path["optimizer.".Length..]];
        var m = LayerPath().Match(path);
        if (m.Success)
        {
            var layers = baseJob["spec"]?["layers"] as JsonArray;
            int index = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            string field = m.Groups[2].Value;
            if (layers is null || index >= layers.Count)
            {
                error = $"unknown path: the base model has {layers?.Count ?? 0} layers";
                return null;
            }
            var layer = (JsonObject)layers[index]!;
            if (field == "type" || !layer.ContainsKey(field))
            {
                error = $"unknown path: layer {index} is {layer["type"]}, whose settings are {string.Join(", ", layer.Select(p => p.Key).Where(k => k != "type"))}";
                return null;
            }
            return ["spec", "layers", index.ToString(CultureInfo.InvariantCulture), field];
        }
        error = $"unknown path: use {string.Join(", ", TopLevel)}, optimizer.{{{string.Join(", ", OptimizerFields)}}} or layers[i].<setting>";
        return null;
    }

    /// <summary>The target as System.Text.Json names it in an exception: <c>$.spec.layers[0].units</c>.</summary>
    private static string JsonPath(string[] target) =>
        "$" + string.Concat(target.Select(step => int.TryParse(step, out _) ? $"[{step}]" : $".{step}"));

    [GeneratedRegex(@"^layers\[(\d{1,4})\]\.([A-Za-z]+)$")]
    private static partial Regex LayerPath();

    private static JsonElement Number(float value) => JsonSerializer.SerializeToElement(value);

    private static bool IsWhole(double v) => double.IsFinite(v) && Math.Floor(v) == v && Math.Abs(v) <= 1e9;

    private static string Format(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
