using Api.Infrastructure;
using Api.Training;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Storage;

namespace Api.Diagnostics;

public static class DiagnosticsApi
{
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
            .Select(g => new EpochDiagnosticsDto(g.Key, [.. g.Select(LayerStatsRecorder.ToDto)])).ToArray());
    }
}
