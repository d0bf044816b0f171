using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Storage;

/// <summary>What dotnet-ef builds the model from when it adds a SQLite migration; it never opens the file.</summary>
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<TrainingDbContext>
{
    public TrainingDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<TrainingDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
