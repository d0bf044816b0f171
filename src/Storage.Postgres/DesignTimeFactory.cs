using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Storage.Postgres;

/// <summary>What dotnet-ef builds the model from when it adds a PostgreSQL migration; it never connects.</summary>
internal sealed class DesignTimeFactory : IDesignTimeDbContextFactory<TrainingDbContext>
{
    public TrainingDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<TrainingDbContext>()
        .UseNpgsql("Host=localhost;Database=training", o => o.MigrationsAssembly(StorageServiceCollectionExtensions.PostgresMigrationsAssembly))
        .Options);
}
