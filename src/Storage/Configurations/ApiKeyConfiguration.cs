using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> b)
    {
        b.ToTable("ApiKeys");
        b.Property(k => k.Owner).HasMaxLength(100);
        b.Property(k => k.Hash).HasMaxLength(64);
        b.Property(k => k.Prefix).HasMaxLength(16);
        b.HasIndex(k => k.Hash).IsUnique();
    }
}
