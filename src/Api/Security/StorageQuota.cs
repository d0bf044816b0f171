using Api.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Storage;

namespace Api.Security;

/// <summary>
/// Security:MaxStoredBytesPerOwner: the data set and checkpoint files of the request's owner. Counted from the
/// rows, whose sizes are the files' sizes, through the owner-scoped context.
/// </summary>
public sealed class StorageQuota(IOptions<SecurityOptions> options)
{
    public long Limit => options.Value.MaxStoredBytesPerOwner;

    /// <summary>Bytes the owner of <paramref name="db"/>'s scope keeps now.</summary>
    public static async Task<long> UsedAsync(TrainingDbContext db, CancellationToken ct) =>
        await db.Datasets.SumAsync(d => d.SizeBytes, ct) + await db.Checkpoints.SumAsync(c => c.SizeBytes, ct);

    /// <summary>413 when storing <paramref name="adding"/> more bytes would pass the quota; null when it fits.</summary>
    public async Task<ProblemHttpResult?> CheckAddAsync(TrainingDbContext db, long adding, string field, CancellationToken ct)
    {
        long used = await UsedAsync(db, ct);
        if (used + adding <= Limit) return null;
        return Problems.Field(field, $"storing {adding} more bytes would pass your storage quota of {Limit} bytes " +
            $"(Security:MaxStoredBytesPerOwner); you use {used}. Delete data sets or jobs first", StatusCodes.Status413PayloadTooLarge);
    }

    /// <summary>409 when the owner's files already fill the quota (new checkpoints would pass it); null otherwise.</summary>
    public async Task<ProblemHttpResult?> CheckNotFullAsync(TrainingDbContext db, string field, CancellationToken ct)
    {
        long used = await UsedAsync(db, ct);
        if (used < Limit) return null;
        return Problems.Conflict(field, $"your data sets and checkpoints use {used} bytes, at or over your storage quota of {Limit} bytes " +
            "(Security:MaxStoredBytesPerOwner); delete data sets or jobs first");
    }
}
