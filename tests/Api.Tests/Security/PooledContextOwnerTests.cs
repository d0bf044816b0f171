using System.Net.Http.Json;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Storage;

namespace Api.Tests.Security;

/// <summary>
/// Database contexts are pooled: an instance one request used is leased again by the next. Its owner must be
/// the new request's, never the previous one's, or the pool would hand one owner's rows to another.
/// </summary>
public sealed class PooledContextOwnerTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private const int Leases = 24;

    [Fact]
    public async Task AContextLeasedAgainByAnotherOwnersRequestSeesOnlyThatOwner()
    {
        var alice = factory.CreateClient(await factory.CreateOwnerKeyAsync("alice"));
        var created = await (await alice.PostAsJsonAsync("/datasets/synthetic", new { name = "alice-only", kind = "xor", size = 10 })).ReadJsonAsync();
        long aliceDataset = created.GetProperty("id").GetInt64();
        var contexts = factory.Services.GetRequiredService<IDbContextFactory<TrainingDbContext>>();
        var accessor = factory.Services.GetRequiredService<IHttpContextAccessor>();
        try
        {
            // Alice's "request": enough contexts at once to take every idle one in the pool, each used for her.
            accessor.HttpContext = Request("alice");
            var used = await LeaseAllAsync();
            foreach (var db in used)
            {
                Assert.Equal("alice", db.OwnerId);
                Assert.NotNull(await db.Datasets.FindAsync(aliceDataset));
            }
            foreach (var db in used) await db.DisposeAsync();

            // Bob's request leases them again: each sees Bob's (no) rows, through queries, Find and counts.
            accessor.HttpContext = Request("bob");
            var leased = await LeaseAllAsync();
            foreach (var db in leased)
            {
                Assert.Equal("bob", db.OwnerId);
                Assert.Null(await db.Datasets.FindAsync(aliceDataset));
                Assert.Equal(0, await db.Datasets.CountAsync(d => d.Id == aliceDataset));
                Assert.Equal(0, await db.Datasets.Where(d => d.Id == aliceDataset).ExecuteUpdateAsync(s => s.SetProperty(d => d.Name, "bob was here")));
            }
            // Otherwise this test would not exercise reuse at all: the pool must have handed Alice's instances to Bob.
            Assert.Contains(leased, db => used.Contains(db));
            foreach (var db in leased) await db.DisposeAsync();
        }
        finally
        {
            accessor.HttpContext = null;
        }
        var after = await (await alice.GetAsync($"/datasets/{aliceDataset}")).ReadJsonAsync();
        Assert.Equal("alice-only", after.GetProperty("name").GetString());

        // The current request leasing Leases contexts at once. (Its HttpContext is set by the caller: the accessor
        // is async-local, so a value set in here would not outlive this method.)
        async Task<List<TrainingDbContext>> LeaseAllAsync()
        {
            var leases = new List<TrainingDbContext>();
            for (int i = 0; i < Leases; i++) leases.Add(await contexts.CreateDbContextAsync());
            return leases;
        }
    }

    private static DefaultHttpContext Request(string owner) => new()
    {
        User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, owner)], "ApiKey")),
    };
}
