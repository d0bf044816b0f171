using System.Text.Json;
using System.Text.Json.Nodes;
using Api.Infrastructure;
using Api.Jobs;
using Api.Training;
using Engine.Specs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Searches;

public static class SearchesApi
{
    /// <summary>The most trials one search may sample (and grid combinations it may enumerate).</summary>
    public const int MaxTrials = 100;
    public const int MaxConcurrentTrials = 16;

    /// <summary>The coordinator (a status observer of every job) and the start-up pass that decides for unfinished searches.</summary>
    public static WebApplicationBuilder AddSearches(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SearchCoordinator>();
        builder.Services.AddSingleton<IJobStatusObserver>(sp => sp.GetRequiredService<SearchCoordinator>());
        builder.Services.AddHostedService<SearchRecovery>();
        return builder;
    }

    public static IEndpointRouteBuilder MapSearches(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/searches").WithTags("Searches");
        group.MapPost("/", Create).WithName("CreateSearch").ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        group.MapGet("/", List).WithName("ListSearches");
        group.MapGet("/{id:long}", Get).WithName("GetSearch").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{id:long}/cancel", Cancel).WithName("CancelSearch")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    /// <summary>Start a hyperparameter search: trials sampled from a space, trained as ordinary jobs, the losers stopped early by ASHA.</summary>
    /// <remarks>
    /// Every trial is sampled and checked now (as POST /jobs checks a job): an unknown path, a bad range, a sampled value
    /// the job cannot take, are 400 keyed <c>space[path]</c>; the other fields are keyed by name. At most
    /// <c>maxConcurrentTrials</c> trials are queued or running at once, each counting against the owner's active jobs
    /// (409 when they do not fit now). See docs/searches.md for the ASHA rule.
    /// </remarks>
    internal static async Task<Results<Accepted<SearchDto>, ProblemHttpResult>> Create(CreateSearchRequest r,
        IDbContextFactory<TrainingDbContext> contexts, JobSubmitter submitter, SearchCoordinator coordinator, CancellationToken ct)
    {
        if (r.BaseJob is not { } baseJob) return Problems.Field("baseJob", "is required");
        var errors = new Dictionary<string, string[]>();
        if (r.Name is { Length: > 200 }) errors["name"] = ["must be at most 200 characters"];
        var algorithm = r.Algorithm ?? SearchAlgorithm.Random;
        var metric = r.Metric ?? SearchMetric.ValLoss;
        var mode = r.Mode ?? (metric == SearchMetric.ValAccuracy ? SearchMode.Max : SearchMode.Min);
        int maxEpochs = r.MaxEpochs ?? baseJob.Epochs ?? 10;
        if (maxEpochs is < 1 or > OptionsValidator.MaxEpochs) errors["maxEpochs"] = [$"must be in [1, {OptionsValidator.MaxEpochs}]"];
        int eta = r.Eta ?? 3;
        if (eta is < 2 or > 10) errors["eta"] = ["must be in [2, 10]"];
        int concurrent = r.MaxConcurrentTrials ?? 1;
        if (concurrent is < 1 or > MaxConcurrentTrials) errors["maxConcurrentTrials"] = [$"must be in [1, {MaxConcurrentTrials}]"];
        if (r.MaxTrials is < 1 or > MaxTrials) errors["maxTrials"] = [$"must be in [1, {MaxTrials}] (the most trials a search may have)"];
        if (metric != SearchMetric.TrainLoss && baseJob.ValidationDatasetId is null && baseJob.ValidationSplit is not > 0)
            errors["metric"] = [$"{SearchCoordinator.Name(metric)} needs validation data: set baseJob.validationSplit or baseJob.validationDatasetId, or use trainLoss"];
        int[] rungs = [maxEpochs];
        if (algorithm == SearchAlgorithm.Asha)
        {
            if (baseJob.EarlyStopping is not null) errors["baseJob.earlyStopping"] = ["asha stops trials itself; leave earlyStopping out"];
            if (errors.Count == 0) rungs = SearchPlan.AshaRungs(r.Rungs, r.MinEpochs ?? 1, eta, maxEpochs, errors) ?? rungs;
        }
        else if (r.Rungs is not null || r.MinEpochs is not null || r.Eta is not null)
            errors[r.Rungs is not null ? "rungs" : r.MinEpochs is not null ? "minEpochs" : "eta"] = ["only asha has rungs"];
        if (errors.Count > 0) return Problems.Errors(errors);

        await using var db = await contexts.CreateDbContextAsync(ct);
        var spec = baseJob.Spec;
        if (baseJob.ModelId is { } modelId)
        {
            if (baseJob.Spec is not null) return Problems.Field("baseJob.modelId", "give modelId or spec, not both");
            var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.Id == modelId, ct);
            if (model is null) return Problems.NotFound("model", modelId, "baseJob.modelId");
            spec = StoredJson.ReadSpec(model.SpecJson);
        }
        if (spec is null) return Problems.Field("baseJob.modelId", "modelId or an inline spec is required");
        // Trials vary the spec, so each carries it inline; its training length is the search's maxEpochs.
        var normalized = baseJob with { Name = null, ModelId = null, Spec = spec, Optimizer = baseJob.Optimizer ?? new OptimizerSpec(), Epochs = maxEpochs };
        var baseNode = JsonSerializer.SerializeToNode(normalized, ApiJson.Options)!.AsObject();
        var space = SearchSpace.Parse(r.Space, baseNode, errors);
        if (errors.Count > 0) return Problems.Errors(errors);

        bool grid = algorithm == SearchAlgorithm.Grid;
        int count = r.MaxTrials ?? 10;
        if (grid)
        {
            foreach (var d in space.Dimensions.Where(d => d.Type is not ("choice" or "int")))
                errors[$"space[{d.Path}].type"] = ["grid enumerates choice and int dimensions only; give this one as a choice of the values to try"];
            if (errors.Count > 0) return Problems.Errors(errors);
            double combinations = space.Dimensions.Aggregate(1.0, (n, d) => n * d.GridSize);
            int limit = r.MaxTrials ?? MaxTrials;
            if (combinations > limit)
                return Problems.Field("maxTrials", $"the grid has {combinations:G} combinations, more than {(r.MaxTrials is null ? "the limit of " : "maxTrials, ")}{limit}");
            count = (int)combinations;
        }
        var trials = space.Sample(grid, count, r.Seed ?? 1);

        var requests = new List<CreateJobRequest>();
        for (int i = 0; i < trials.Count; i++)
        {
            if (space.Apply(baseNode, trials[i], errors, i) is not { } request) continue;
            var found = SpecValidator.Validate(request.Spec!).Errors.Select(e => (e.Path, e.Message, Spec: true))
                .Concat(OptionsValidator.Validate(JobSubmitter.OptionsOf(request)).Select(e => (e.Path, e.Message, Spec: false)));
            foreach (var (path, message, isSpec) in found)
            {
                var dimension = space.Dimensions.FirstOrDefault(d => d.Path == path);
                string key = dimension is not null ? $"space[{path}]" : isSpec ? $"baseJob.spec.{path}" : $"baseJob.{path}";
                errors.TryAdd(key, [dimension is null ? message : $"trial {i} samples {trials[i][path].GetRawText()}, but {path} {message}"]);
            }
            requests.Add(request);
        }
        if (errors.Count > 0) return Problems.Errors(errors);
        // Model, data, fit and cost, as POST /jobs checks them, for every trial (widths change the cost).
        foreach (var request in requests)
            if ((await submitter.PrepareAsync(db, request, ct, costField: "maxEpochs")).Problem is { } problem)
                return problem;
        if (await submitter.CheckRoomAsync(db, Math.Min(concurrent, trials.Count), "maxConcurrentTrials", ct) is { } full) return full;

        var plan = new SearchPlan(baseNode, r.Space!, algorithm, metric, mode, rungs, eta, concurrent);
        var now = DateTime.UtcNow;
        var search = new Search
        {
            Name = r.Name, RequestJson = plan.Write(), TrialsJson = JsonSerializer.Serialize(trials, ApiJson.Options),
            Status = SearchStatus.Running, CreatedAt = now, UpdatedAt = now,
        };
        db.Searches.Add(search);
        await db.SaveChangesAsync(ct);
        // The first decision starts the first trials.
        await coordinator.DecideAsync(search.Id, ct: ct);
        return TypedResults.Accepted($"/searches/{search.Id}", await BuildAsync(db, search.Id, ct));
    }

    /// <summary>The caller's searches, newest first (at most 100).</summary>
    internal static async Task<Ok<SearchSummaryDto[]>> List(IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.Searches.AsNoTracking().OrderByDescending(s => s.Id).Take(100).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(s =>
        {
            var plan = SearchPlan.Read(s.RequestJson);
            return new SearchSummaryDto(s.Id, s.Name, s.Status, plan.Algorithm, SearchCoordinator.ReadTrials(s.TrialsJson).Count, s.TrialsCreated,
                s.BestJobId, s.BestValue, s.CreatedAt);
        }).ToArray());
    }

    /// <summary>The search with every trial: parameters, job, status, metric per rung; the best trial and its job.</summary>
    internal static async Task<Results<Ok<SearchDto>, ProblemHttpResult>> Get(long id, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        return await BuildAsync(db, id, ct) is { } dto ? TypedResults.Ok(dto) : Problems.NotFound("search", id);
    }

    /// <summary>Cancel the search and every trial: queued, running (stops within one batch) and paused ones.</summary>
    /// <remarks>Finished trials keep their results and weights; a cancelled search starts and promotes nothing more.</remarks>
    internal static async Task<Results<Ok<SearchDto>, ProblemHttpResult>> Cancel(long id, IDbContextFactory<TrainingDbContext> contexts,
        JobLifecycle lifecycle, TrainingRegistry registry, JobEvents events, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var now = DateTime.UtcNow;
        // First, so no decision made from here on starts or promotes a trial.
        int rows = await db.Searches.Where(s => s.Id == id && s.Status == SearchStatus.Running).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.Status, SearchStatus.Cancelled).SetProperty(x => x.FinishedAt, now).SetProperty(x => x.UpdatedAt, now), ct);
        if (rows == 0)
        {
            var status = await db.Searches.Where(s => s.Id == id).Select(s => (SearchStatus?)s.Status).FirstOrDefaultAsync(ct);
            return status is null ? Problems.NotFound("search", id)
                : Problems.Conflict("status", $"search {id} is {status.Value.ToString().ToLowerInvariant()}; only a running search can be cancelled");
        }
        var trials = await db.Jobs.AsNoTracking().Where(j => j.SearchId == id && (j.Status == JobStatus.Queued || j.Status == JobStatus.Running || j.Status == JobStatus.Paused))
            .Select(j => j.Id).ToListAsync(ct);
        foreach (var jobId in trials)
        {
            if (await lifecycle.MoveAsync(jobId, JobStatus.Cancelled, [JobStatus.Queued, JobStatus.Running, JobStatus.Paused], $"search {id} was cancelled", ct: ct) is not null)
                registry.Cancel(jobId);
        }
        var dto = (await BuildAsync(db, id, ct))!;
        events.SearchProgress(new SearchEvent(id, SearchEventKind.Finished, null, dto.BestJobId, null, dto.BestValue, SearchStatus.Cancelled));
        return TypedResults.Ok(dto);
    }

    private static async Task<SearchDto?> BuildAsync(TrainingDbContext db, long id, CancellationToken ct)
    {
        var search = await db.Searches.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id, ct);
        if (search is null) return null;
        var plan = SearchPlan.Read(search.RequestJson);
        var sampled = SearchCoordinator.ReadTrials(search.TrialsJson);
        var state = await SearchState.LoadAsync(db, id, plan, sampled.Count, ct);
        var byIndex = state.Trials.ToDictionary(t => t.Index);
        var best = state.Best();
        var trials = sampled.Select((p, i) =>
        {
            var t = byIndex.GetValueOrDefault(i);
            var results = t is null ? [] : plan.Rungs.Select((r, k) => (r, k)).Where(x => t.Results[x.k] is not null)
                .Select(x => new RungResultDto(x.k, x.r == plan.MaxEpochs && t.Epoch < x.r ? t.Epoch : x.r, t.Results[x.k]!.Value)).ToArray();
            return new SearchTrialDto(i, t?.JobId, t is null ? "pending" : JsonNamingPolicy.CamelCase.ConvertName(t.Status.ToString()),
                t?.Epoch ?? 0, p, results);
        }).ToArray();
        return new SearchDto(search.Id, search.Name, search.Status, plan.Algorithm, plan.Metric, plan.Mode, plan.Rungs, plan.Eta, sampled.Count,
            state.Trials.Sum(t => t.Epoch), best?.Trial.Index, search.BestJobId, search.BestValue, search.Error, search.CreatedAt, search.FinishedAt, trials);
    }
}
