using Api.Jobs;
using Storage;
using Storage.Entities;

namespace Api.Tests.Jobs;

/// <summary>The per-job view cache must never answer for a job whose stored state has moved on.</summary>
public sealed class JobViewCacheTests
{
    private sealed class Owner : IOwnerScope
    {
        public string? OwnerId { get; set; }
    }

    private static Job NewJob(int epoch, DateTime updated, string options = """{"optimizer":{"type":"adam","learningRate":0.001},"epochs":3}""") => new()
    {
        Id = 7, SpecJson = """{"input":[2],"layers":[{"type":"dense","units":3}],"loss":"softmax_cross_entropy"}""",
        OptionsJson = options, CurrentEpoch = epoch, UpdatedAt = updated,
    };

    [Fact]
    public void AggregatesAreReusedOnlyWhileEpochAndUpdateTimeAreUnchanged()
    {
        var cache = new JobViewCache(new WriteGeneration(enabled: false), new Owner());
        var t = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var job = NewJob(3, t);
        Assert.False(cache.TryGetAggregates(job, out _));
        cache.SetAggregates(job, latest: null, bestEpoch: 2, meanSeconds: 0.5);

        Assert.True(cache.TryGetAggregates(NewJob(3, t), out var hit));
        Assert.Equal(2, hit.BestEpoch);
        Assert.False(cache.TryGetAggregates(NewJob(4, t.AddSeconds(1)), out _)); // a new epoch was stored
        Assert.False(cache.TryGetAggregates(NewJob(2, t), out _));               // a resume dropped an epoch
        Assert.False(cache.TryGetAggregates(NewJob(3, t.AddTicks(1)), out _));   // epoch 3 was trained again

        cache.Forget(7);
        Assert.False(cache.TryGetAggregates(job, out _));
    }

    [Fact]
    public void ParsedOptionsFollowTheStoredJson()
    {
        var cache = new JobViewCache(new WriteGeneration(enabled: false), new Owner());
        var t = DateTime.UtcNow;
        Assert.Equal(3, cache.OptionsAndSpec(NewJob(0, t)).Options.Epochs);
        Assert.Equal(5, cache.OptionsAndSpec(NewJob(0, t, """{"optimizer":{"type":"adam","learningRate":0.001},"epochs":5}""")).Options.Epochs);
    }

    [Fact]
    public void AKeptRowIsOnlyForTheOwnerWhoReadItAndOnlyUntilTheNextWrite()
    {
        var writes = new WriteGeneration(enabled: true);
        var owner = new Owner { OwnerId = "alice" };
        var cache = new JobViewCache(writes, owner);
        var job = NewJob(1, DateTime.UtcNow);
        cache.SetRow(cache.RowStamp(), job);
        Assert.True(cache.TryGetRow(job.Id, out var kept));
        Assert.Same(job, kept);

        owner.OwnerId = "bob"; // the row was read through alice's filter
        Assert.False(cache.TryGetRow(job.Id, out _));
        owner.OwnerId = null;  // nor is it an admin's read
        Assert.False(cache.TryGetRow(job.Id, out _));

        owner.OwnerId = "alice";
        writes.Begin(connection: null); // any write, of any row
        Assert.False(cache.TryGetRow(job.Id, out _));
    }
}
