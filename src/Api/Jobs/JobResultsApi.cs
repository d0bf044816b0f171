using System.Text.Json;
using Api.Infrastructure;
using Api.Training;
using Engine;
using Engine.Serialization;
using Engine.Specs;
using Engine.Training;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;
using Storage.Entities;

namespace Api.Jobs;

/// <summary>What a job produced: checkpoints, weight downloads and predictions.</summary>
public static partial class JobsApi
{
    private static readonly string[] WeightFormats = ["safetensors", "json", "onnx"];

    private static void MapResults(RouteGroupBuilder group)
    {
        group.MapGet("/{id:long}/checkpoints", ListCheckpoints).WithName("ListJobCheckpoints").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{id:long}/weights", Weights).WithName("DownloadJobWeights")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream", additionalContentTypes: ["application/json"])
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity).ProducesProblem(StatusCodes.Status429TooManyRequests);
        group.MapPost("/{id:long}/predict", Predict).WithName("Predict").ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
    }

    /// <summary>The stored checkpoints of a job: the most recent few and the best.</summary>
    internal static async Task<Results<Ok<CheckpointDto[]>, ProblemHttpResult>> ListCheckpoints(
        long id, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        if (!await db.Jobs.AnyAsync(j => j.Id == id, ct)) return Problems.NotFound("job", id);
        var rows = await Checkpoints.EpochEnds(db, id).OrderBy(c => c.Epoch)
            .Select(c => new CheckpointDto(c.Epoch, c.SizeBytes, c.Sha256, c.IsBest, c.CreatedAt)).ToListAsync(ct);
        return TypedResults.Ok(rows.ToArray());
    }

    /// <summary>Download the weights of a checkpoint as safetensors, JSON or ONNX.</summary>
    /// <remarks>
    /// Tensors use the names and layouts of PyTorch's <c>nn.Sequential(...).state_dict()</c>, one module per spec layer
    /// (<c>0.weight</c> is [out, in]; BatchNorm adds <c>running_mean</c>, <c>running_var</c> and int64
    /// <c>num_batches_tracked</c>), so <c>load_state_dict</c> takes the file as is. The safetensors header metadata states
    /// the naming (<c>naming</c>) and carries the model spec and the input normalization (<c>input_transform</c>) so a reader can rebuild predictions;
    /// the ONNX graph applies the normalization itself. File name: <c>job-12-epoch-5.safetensors</c>.
    /// </remarks>
    /// <param name="format">safetensors (default), json or onnx.</param>
    /// <param name="checkpoint">latest (default), best or an epoch number.</param>
    internal static async Task<Results<FileContentHttpResult, PushStreamHttpResult, ProblemHttpResult>> Weights(
        long id, IDbContextFactory<TrainingDbContext> contexts, CheckpointFiles files, Security.ModelWork work, HttpContext http,
        CancellationToken ct, string format = "safetensors", string checkpoint = "latest")
    {
        format = format.ToLowerInvariant();
        if (!WeightFormats.Contains(format)) return Problems.Field("format", "must be safetensors, json or onnx");
        // Held until the body is written: the network and its exported tensors live that long.
        var (lease, busy) = await work.Limiter.AcquireAsync(http, ct);
        if (busy is not null) return busy;
        http.Response.RegisterForDispose(lease!);
        var (network, epoch, problem) = await LoadNetworkAsync(id, checkpoint, contexts, files, ct);
        if (problem is not null) return problem;
        var name = $"job-{id}-epoch-{epoch}.{format}";
        if (format == "onnx")
        {
            try
            {
                return TypedResults.File(OnnxExport.Write(network!), "application/octet-stream", name);
            }
            catch (OnnxMappingException e)
            {
                return Problems.Field("format", $"{e.Message} Download safetensors or json instead.", StatusCodes.Status422UnprocessableEntity);
            }
        }
        var tensors = network!.ExportTensors();
        if (format == "json")
        {
            try
            {
                JsonWeights.CheckFinite(tensors);
            }
            catch (ArgumentException e)
            {
                return Problems.Conflict("format", $"{e.Message} Download safetensors instead.");
            }
            return TypedResults.Stream(body => JsonWeights.WriteAsync(body, tensors, http.RequestAborted), "application/json", name);
        }
        var metadata = Metadata(network, id, epoch);
        return TypedResults.Stream(body => SafeTensors.WriteAsync(body, tensors, metadata, network.ExportCounters(), http.RequestAborted), "application/octet-stream", name);
    }

    private static Dictionary<string, string> Metadata(Network network, long jobId, int epoch)
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["naming"] = Network.StateDictNaming,
            ["job"] = jobId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["epoch"] = epoch.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["spec"] = StoredJson.WriteSpec(network.Spec),
        };
        if (network.Transform is { } t) metadata["input_transform"] = JsonSerializer.Serialize(t, ApiJson.Options);
        return metadata;
    }

    /// <summary>Run inputs through a checkpoint of the job: probabilities and argmax for classifiers, values for regression.</summary>
    internal static async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> Predict(
        long id, PredictRequest request, IDbContextFactory<TrainingDbContext> contexts, CheckpointFiles files, IOptions<WorkerOptions> options,
        Security.ModelWork work, HttpContext http, CancellationToken ct)
    {
        if (request.Inputs is not { Length: > 0 } inputs) return Problems.Field("inputs", "needs at least one row");
        int max = options.Value.MaxPredictRows;
        if (inputs.Length > max)
            return Problems.Field("inputs", $"has {inputs.Length} rows, more than the limit of {max} (Training:MaxPredictRows)", StatusCodes.Status413PayloadTooLarge);
        var errors = new Dictionary<string, string[]>();
        for (int i = 0; i < inputs.Length && errors.Count < 20; i++)
            if (inputs[i] is { } row && !System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(row))
                errors[$"inputs[{i}]"] = ["holds a value that is not a finite float32 (NaN, ±Infinity or beyond ±3.4e38)"];
        if (errors.Count > 0) return Problems.Errors(errors);
        var (lease, busy) = await work.Limiter.AcquireAsync(http, ct);
        if (busy is not null) return busy;
        using (lease) return await PredictAsync(id, request, inputs, contexts, files, ct);
    }

    private static async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> PredictAsync(
        long id, PredictRequest request, float[][] inputs, IDbContextFactory<TrainingDbContext> contexts, CheckpointFiles files, CancellationToken ct)
    {
        var (network, epoch, problem) = await LoadNetworkAsync(id, request.Checkpoint ?? "latest", contexts, files, ct, "checkpoint");
        if (problem is not null) return problem;

        int width = network!.InputWidth;
        var errors = new Dictionary<string, string[]>();
        for (int i = 0; i < inputs.Length && errors.Count < 20; i++)
            if (inputs[i]?.Length != width)
                errors[$"inputs[{i}]"] = [$"has {inputs[i]?.Length ?? 0} values, the model takes {width}"];
        if (errors.Count > 0) return Problems.Errors(errors);

        var flat = new float[inputs.Length * width];
        for (int i = 0; i < inputs.Length; i++) inputs[i].CopyTo(flat, i * width);
        var output = network.Predict(flat, inputs.Length);
        int k = network.OutputWidth;
        var rows = new float[inputs.Length][];
        for (int i = 0; i < rows.Length; i++) rows[i] = output.AsSpan(i * k, k).ToArray();
        // JSON has no NaN or ∞: rows the network overflows on are reported instead of failing the answer.
        for (int i = 0; i < rows.Length && errors.Count < 20; i++)
            if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(rows[i]))
                errors[$"inputs[{i}]"] = ["the model's output for this row is not finite (NaN or ±Infinity): the values overflow float32 inside the network"];
        if (errors.Count > 0) return Problems.Errors(errors, StatusCodes.Status422UnprocessableEntity);
        int[]? argmax = network.Spec.Loss switch
        {
            LossKind.SoftmaxCrossEntropy => [.. rows.Select(r => r.AsSpan().IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(r)))],
            LossKind.SigmoidBinaryCrossEntropy when k == 1 => [.. rows.Select(r => r[0] >= 0.5f ? 1 : 0)],
            _ => null,
        };
        return TypedResults.Ok(new PredictResponse(epoch, rows, argmax));
    }

    /// <summary>The eval-ready network of a job's checkpoint, or the problem explaining why there is none.</summary>
    private static async Task<(Network? Network, int Epoch, ProblemHttpResult? Problem)> LoadNetworkAsync(
        long id, string selector, IDbContextFactory<TrainingDbContext> contexts, CheckpointFiles files, CancellationToken ct, string field = "checkpoint")
    {
        selector = selector.ToLowerInvariant();
        if (!Checkpoints.IsValidSelector(selector)) return (null, 0, Problems.Field(field, "must be latest, best or an epoch number ≥ 1"));
        await using var db = await contexts.CreateDbContextAsync(ct);
        if (!await db.Jobs.AnyAsync(j => j.Id == id, ct)) return (null, 0, Problems.NotFound("job", id));
        var stored = await Checkpoints.FindAsync(db, id, selector, ct);
        if (stored is null)
            return (null, 0, Problems.Field(field, $"job {id} has no {selector} checkpoint (see GET /jobs/{id}/checkpoints)", StatusCodes.Status404NotFound));
        if (files.ReadIntact(stored) is not { } state)
            return (null, 0, Problems.Conflict(field, $"the checkpoint of epoch {stored.Epoch} is missing or does not match its SHA-256"));
        try
        {
            return (TrainingState.LoadNetwork(state), stored.Epoch, null);
        }
        catch (InvalidTrainingStateException e)
        {
            return (null, 0, Problems.Conflict(field, $"the checkpoint of epoch {stored.Epoch} cannot be read: {e.Message}"));
        }
    }
}
