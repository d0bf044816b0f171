using System.Text.Json;
using Api.Infrastructure;
using Engine;
using Engine.Serialization;
using Engine.Specs;
using Engine.Tensors;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;
using Storage.Entities;

namespace Api.Models;

/// <summary><c>POST /models/import</c>: a model initialized from a PyTorch state dict (safetensors) plus its spec.</summary>
public static class ModelImport
{
    /// <summary>Room for the safetensors header beyond the tensors' own bytes.</summary>
    private const long HeaderAllowance = 1024 * 1024;
    private const int MaxSpecBytes = 1024 * 1024;

    internal static RouteHandlerBuilder MapImport(RouteGroupBuilder group) =>
        group.MapPost("/import", Import).WithName("ImportModel").WithMetadata(new Api.Security.OwnBodyLimitMetadata())
            .DisableAntiforgery().Accepts<IFormFile>("multipart/form-data")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status422UnprocessableEntity);

    /// <summary>Create a model whose weights come from a safetensors file, e.g. a PyTorch <c>state_dict()</c>, to fine-tune it here.</summary>
    /// <remarks>
    /// multipart/form-data with <c>spec</c> (the model spec as JSON), <c>weights</c> (a safetensors file named as
    /// <c>nn.Sequential(...).state_dict()</c> names it: <c>0.weight</c> [out, in], <c>0.bias</c>, <c>1.running_mean</c>, ...;
    /// <c>num_batches_tracked</c> optional; the older <c>layers.0.weight</c> names are accepted) and optionally <c>name</c>.
    /// A tensor that is missing, unexpected or of the wrong shape is 422 with <c>errors</c> keyed by the tensor's name
    /// (<c>errors["0.weight"] = "expected [16, 2], got [2, 16]"</c>). The file may be at most the spec's tensors plus
    /// 1 MiB of header, and the request at most Storage:MaxUploadBytes (413). Jobs submitted with this model's id start
    /// from these weights.
    /// </remarks>
    internal static async Task<Results<Created<ModelDto>, ProblemHttpResult>> Import(
        HttpRequest request, IDbContextFactory<TrainingDbContext> contexts, WeightFiles weightFiles, IOptions<StorageOptions> storage,
        CancellationToken ct)
    {
        if (!request.HasFormContentType || request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) != true)
            return Problems.Field("Content-Type", "must be multipart/form-data", StatusCodes.Status415UnsupportedMediaType);
        long maxBytes = storage.Value.MaxUploadBytes;
        var tooLarge = Problems.Field("body", $"is larger than the limit of {maxBytes} bytes (Storage:MaxUploadBytes)", StatusCodes.Status413PayloadTooLarge);
        if (request.ContentLength > maxBytes) return tooLarge;
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = maxBytes;
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = maxBytes, ValueLengthLimit = MaxSpecBytes }, ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return tooLarge;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return Problems.Field("body", $"is not well-formed multipart/form-data within the limits: {e.Message}");
        }

        string name = form["name"].ToString() is { Length: > 0 } n ? n : "imported";
        if (name.Length > 200) return Problems.Field("name", "must be at most 200 characters");
        if (form["spec"].ToString() is not { Length: > 0 } specJson) return Problems.Field("spec", "is required (the model spec as JSON)");
        ModelSpec? spec;
        try { spec = JsonSerializer.Deserialize<ModelSpec>(specJson, ApiJson.Options); }
        catch (JsonException e) { return Problems.Field("spec", $"is not a valid model spec: {e.Message}"); }
        if (spec is null) return Problems.Field("spec", "is required (the model spec as JSON)");
        var report = SpecValidator.Validate(spec);
        if (!report.IsValid) return Problems.Spec(report.Errors, "spec");
        if (form.Files.GetFile("weights") is not { } file) return Problems.Field("weights", "is required (a safetensors file)");

        var network = Network.Create(spec, new Rng(0));
        long expected = 4 * (network.Parameters.Sum(p => (long)p.Value.Length) + network.Buffers.Sum(b => (long)b.Value.Length))
                        + 8L * network.ExportCounters().Count;
        if (file.Length > expected + HeaderAllowance)
            return Problems.Field("weights", $"is {file.Length} bytes; this spec's tensors take {expected} bytes plus at most {HeaderAllowance} of header",
                StatusCodes.Status413PayloadTooLarge);
        var bytes = new byte[file.Length];
        await using (var stream = file.OpenReadStream()) await stream.ReadExactlyAsync(bytes, ct);

        IReadOnlyList<NamedTensor> tensors;
        IReadOnlyList<NamedInt64> counters;
        try { tensors = SafeTensors.Read(bytes, out _, out counters); }
        catch (InvalidDataException e) { return Problems.Field("weights", $"is not a safetensors file this service reads: {e.Message}"); }
        var problems = network.CheckTensors(tensors, counters).ToList();
        problems.AddRange(tensors.Where(t => !System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(t.Data))
            .Where(t => problems.All(p => p.Name != t.Name)).Select(t => new TensorProblem(t.Name, "contains NaN or infinity")));
        if (problems.Count > 0)
            return Problems.Errors(problems.GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray()),
                StatusCodes.Status422UnprocessableEntity);
        network.ImportTensors(tensors, counters);

        // Stored in the export's own names and order, whatever names (current or layers.) the upload used.
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["naming"] = Network.StateDictNaming, ["spec"] = StoredJson.WriteSpec(spec) };
        var sha256 = weightFiles.Write(SafeTensors.Write(network.ExportTensors(), metadata, network.ExportCounters()));
        var row = new Model
        {
            Name = name, SpecJson = StoredJson.WriteSpec(spec), ParameterCount = report.TotalParameters,
            OutputShape = JsonSerializer.Serialize(report.OutputShape), CreatedAt = DateTime.UtcNow, WeightsSha256 = sha256,
        };
        await using var db = await contexts.CreateDbContextAsync(ct);
        db.Models.Add(row);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/models/{row.Id}", row.AsDto());
    }
}
