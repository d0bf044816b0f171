using Microsoft.EntityFrameworkCore;
using Storage;
using Storage.Entities;

namespace Api.Tests.Storage;

/// <summary>
/// What a stamp promises its reader (JobViewCache keeps job rows by it): once anything is written through EF, a stamp
/// taken before is never current again, and a write that is still open gives no stamp at all.
/// </summary>
public sealed class WriteGenerationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("write-generation-").FullName;
    private readonly WriteGeneration _writes = new(enabled: true);

    private TrainingDbContext Open() => new(new DbContextOptionsBuilder<TrainingDbContext>()
        .UseSqlite(StorageServiceCollectionExtensions.ConnectionString(Path.Combine(_directory, "test.db"), 5))
        .AddInterceptors(new WriteGenerationInterceptor(_writes)).Options);

    private long Migrated()
    {
        using (var db = Open()) db.Database.Migrate();
        return _writes.Stamp() ?? throw new InvalidOperationException("the migration left a write open");
    }

    private static Job NewJob() => new()
    {
        SpecJson = "{}", OptionsJson = "{}", Epochs = 1, CheckpointEvery = 1, Status = JobStatus.Queued,
        CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
    };

    [Fact]
    public async Task ReadingKeepsAStampCurrentAndSavingEndsIt()
    {
        long stamp = Migrated();
        await using (var db = Open()) Assert.Equal(0, await db.Jobs.CountAsync());
        Assert.True(_writes.IsCurrent(stamp));

        await using (var db = Open())
        {
            db.Jobs.Add(NewJob());
            await db.SaveChangesAsync();
        }
        Assert.False(_writes.IsCurrent(stamp));
        var after = _writes.Stamp();
        Assert.NotNull(after);
        Assert.True(_writes.IsCurrent(after.Value));
    }

    [Fact]
    public async Task AnUpdateOrDeleteStatementEndsAStamp()
    {
        long stamp = Migrated();
        await using var db = Open();
        db.Jobs.Add(NewJob());
        await db.SaveChangesAsync();
        long saved = _writes.Stamp()!.Value;
        Assert.NotEqual(stamp, saved);

        await db.Jobs.ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatus.Running));
        Assert.False(_writes.IsCurrent(saved));
        long updated = _writes.Stamp()!.Value;
        await db.Jobs.ExecuteDeleteAsync();
        Assert.False(_writes.IsCurrent(updated));
        Assert.NotNull(_writes.Stamp());
    }

    [Fact]
    public async Task NoStampIsGivenWhileATransactionIsOpenAndItsEndMovesTheGeneration()
    {
        long stamp = Migrated();
        await using var db = Open();
        await using (var tx = await db.Database.BeginTransactionAsync())
        {
            db.Jobs.Add(NewJob());
            await db.SaveChangesAsync();
            // Another connection still reads the state before this transaction: nothing read now may be kept.
            Assert.Null(_writes.Stamp());
            Assert.False(_writes.IsCurrent(stamp));
            await tx.CommitAsync();
        }
        var committed = _writes.Stamp();
        Assert.NotNull(committed);

        await using (var tx = await db.Database.BeginTransactionAsync())
        {
            db.Jobs.Add(NewJob());
            await db.SaveChangesAsync();
            Assert.Null(_writes.Stamp());
            await tx.RollbackAsync();
        }
        Assert.NotNull(_writes.Stamp());
    }

    [Fact]
    public void WhenOffNothingIsEverCurrent()
    {
        var off = new WriteGeneration(enabled: false);
        Assert.Null(off.Stamp());
        Assert.False(off.IsCurrent(0));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
