using Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Storage;

namespace Api.Diagnostics;

/// <summary>One layer at one epoch end, measured on the fixed probe batch (the first 256 training samples).</summary>
/// <param name="GradToWeight">GradNorm / WeightNorm.</param>
/// <param name="DeadFraction">ReLU layers: units that output 0 for every probe sample; null for other layers.</param>
/// <param name="Histogram">20 equal bins of the layer's output activations between HistogramMin and HistogramMax.</param>
public sealed record LayerStatsDto(int Index, string Type, double? WeightNorm, double? GradNorm, double? GradToWeight,
    double Mean, double Std, double? DeadFraction, double HistogramMin, double HistogramMax, int[] Histogram);

/// <summary>All layers of one epoch.</summary>
public sealed record EpochDiagnosticsDto(int Epoch, LayerStatsDto[] Layers);

/// <summary>Hub event with one epoch's layer diagnostics.</summary>
public sealed record LayerStatsEvent(long JobId, int Epoch, LayerStatsDto[] Layers);

public static class DiagnosticsApi
{
    /// <summary>The per-epoch layer statistics recorder the worker calls.</summary>
    public static WebApplicationBuilder AddDiagnostics(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DiagnosticsRecorder>();
        return builder;
    }

    public static IEndpointRouteBuilder MapDiagnostics(this IEndpointRouteBuilder app)
    {
        app.MapGet("/jobs/{id:long}/diagnostics", Get).WithTags("Jobs").WithName("GetJobDiagnostics")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>Per-epoch layer diagnostics: weight and gradient norms, activation statistics, dead ReLUs, histograms.</summary>
    internal static async Task<Results<Ok<EpochDiagnosticsDto[]>, ProblemHttpResult>> Get(long id,
        IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var job = await db.Jobs.AsNoTracking().FirstOrDefaultAsync(j => j.Id == id, ct);
        if (job is null) return Problems.NotFound("job", id);
        // Epochs after the job's current one were undone by a resume from an earlier checkpoint and are trained again.
        var rows = await db.LayerStats.AsNoTracking().Where(s => s.JobId == id && s.Epoch <= job.CurrentEpoch)
            .OrderBy(s => s.Epoch).ThenBy(s => s.LayerIndex).ToListAsync(ct);
        return TypedResults.Ok(rows.GroupBy(r => r.Epoch)
            .Select(g => new EpochDiagnosticsDto(g.Key, [.. g.Select(DiagnosticsRecorder.ToDto)])).ToArray());
    }
}
