using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class EpochMetricConfiguration : IEntityTypeConfiguration<EpochMetric>
{
    public void Configure(EntityTypeBuilder<EpochMetric> b)
    {
        b.ToTable("EpochMetrics");
        b.HasIndex(m => new { m.JobId, m.Epoch }).IsUnique();
        b.HasOne<Job>().WithMany().HasForeignKey(m => m.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
