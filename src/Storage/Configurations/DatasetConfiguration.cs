using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class DatasetConfiguration : IEntityTypeConfiguration<Dataset>
{
    public void Configure(EntityTypeBuilder<Dataset> b)
    {
        b.ToTable("Datasets");
        b.Property(d => d.OwnerId).HasMaxLength(100);
        b.HasIndex(d => d.OwnerId);
        b.Property(d => d.Name).HasMaxLength(200);
        b.Property(d => d.Format).HasMaxLength(16);
        b.Property(d => d.Shape).HasMaxLength(200);
        b.Property(d => d.Normalization).HasMaxLength(16);
        b.Property(d => d.FileName).HasMaxLength(400);
        b.Property(d => d.Sha256).HasMaxLength(64);
    }
}
