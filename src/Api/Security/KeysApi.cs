using System.Text.RegularExpressions;
using Api.Cluster;
using Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Security;

public static partial class KeysApi
{
    public const string AdminPolicy = "admin";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")]
    private static partial Regex OwnerPattern();

    public static IEndpointRouteBuilder MapKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/keys").WithTags("Keys").RequireAuthorization(AdminPolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        group.MapPost("/", Create).WithName("CreateKey").ProducesValidationProblem();
        group.MapGet("/", List).WithName("ListKeys");
        group.MapDelete("/{id:long}", Revoke).WithName("RevokeKey").ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>Create an API key for an owner (admin only). The key is in this answer and nowhere else: store it.</summary>
    internal static async Task<Results<Created<CreatedKeyDto>, ProblemHttpResult>> Create(
        CreateKeyRequest request, IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        if (request.Owner is not { } owner || !OwnerPattern().IsMatch(owner))
            return Problems.Field("owner", "is required: 1 to 100 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit");
        var key = ApiKeys.Generate();
        var row = new ApiKey
        {
            Owner = owner, IsAdmin = request.Admin ?? false, Hash = ApiKeys.Hash(key), Prefix = ApiKeys.Prefix(key), CreatedAt = DateTime.UtcNow,
        };
        await using var db = await contexts.CreateDbContextAsync(ct);
        db.ApiKeys.Add(row);
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/keys/{row.Id}", new CreatedKeyDto(row.Id, row.Owner, row.IsAdmin, row.Prefix, row.CreatedAt, key));
    }

    /// <summary>List keys (admin only), without the keys themselves.</summary>
    internal static async Task<Ok<KeyDto[]>> List(IDbContextFactory<TrainingDbContext> contexts, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var rows = await db.ApiKeys.AsNoTracking().OrderBy(k => k.Id).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(k => new KeyDto(k.Id, k.Owner, k.IsAdmin, k.Prefix, k.CreatedAt, k.RevokedAt)).ToArray());
    }

    /// <summary>
    /// Revoke a key (admin only): it authenticates nothing from the next request on, and its open SignalR connections
    /// are closed. The owner's data stays.
    /// </summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> Revoke(long id, IDbContextFactory<TrainingDbContext> contexts, ApiKeyCache cache,
        KeyConnections connections, ClusterBus cluster, CancellationToken ct)
    {
        await using var db = await contexts.CreateDbContextAsync(ct);
        var now = DateTime.UtcNow;
        int changed = await db.ApiKeys.Where(k => k.Id == id && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), ct);
        var keyId = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        cache.Clear();
        connections.Close(keyId);
        cluster.Publish(KeyRevocations.Channel, keyId);
        if (changed > 0) return TypedResults.NoContent();
        return await db.ApiKeys.AnyAsync(k => k.Id == id, ct) ? TypedResults.NoContent() : Problems.NotFound("key", id);
    }
}
