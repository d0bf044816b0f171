using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class SearchConfiguration : IEntityTypeConfiguration<Search>
{
    public void Configure(EntityTypeBuilder<Search> b)
    {
        b.ToTable("Searches");
        b.Property(s => s.OwnerId).HasMaxLength(100);
        b.HasIndex(s => s.OwnerId);
        b.Property(s => s.Name).HasMaxLength(200);
        b.Property(s => s.Status).HasConversion<string>().HasMaxLength(16);
        b.HasIndex(s => s.Status);
    }
}
