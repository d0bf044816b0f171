using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class JobLeaseConfiguration : IEntityTypeConfiguration<JobLease>
{
    public void Configure(EntityTypeBuilder<JobLease> b)
    {
        b.ToTable("JobLeases");
        b.HasKey(l => l.JobId);
        b.Property(l => l.JobId).ValueGeneratedNever();
        b.Property(l => l.NodeId).HasMaxLength(100);
        b.Property(l => l.RunId).HasMaxLength(32);
        b.HasIndex(l => l.NodeId);
        b.HasOne<Job>().WithOne().HasForeignKey<JobLease>(l => l.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
