using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class CheckpointConfiguration : IEntityTypeConfiguration<Checkpoint>
{
    public void Configure(EntityTypeBuilder<Checkpoint> b)
    {
        b.ToTable("Checkpoints");
        b.Property(c => c.FileName).HasMaxLength(400);
        b.Property(c => c.Sha256).HasMaxLength(64);
        b.HasIndex(c => new { c.JobId, c.Epoch }).IsUnique();
        b.HasOne<Job>().WithMany().HasForeignKey(c => c.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
