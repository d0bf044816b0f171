using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class ModelConfiguration : IEntityTypeConfiguration<Model>
{
    public void Configure(EntityTypeBuilder<Model> b)
    {
        b.ToTable("Models");
        b.Property(m => m.OwnerId).HasMaxLength(100);
        b.HasIndex(m => m.OwnerId);
        b.Property(m => m.Name).HasMaxLength(200);
        b.Property(m => m.OutputShape).HasMaxLength(200);
        b.Property(m => m.WeightsSha256).HasMaxLength(64);
    }
}
