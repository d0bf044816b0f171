using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class ExperimentConfiguration : IEntityTypeConfiguration<Experiment>
{
    public void Configure(EntityTypeBuilder<Experiment> b)
    {
        b.ToTable("Experiments");
        b.Property(e => e.OwnerId).HasMaxLength(100);
        b.HasIndex(e => e.OwnerId);
        b.Property(e => e.Name).HasMaxLength(200);
    }
}
