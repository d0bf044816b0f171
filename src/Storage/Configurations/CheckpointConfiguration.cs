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
        // One epoch-end state per epoch; a yield's state is one per position (NULLs are distinct in a unique index).
        b.HasIndex(c => new { c.JobId, c.Epoch }).IsUnique().HasFilter("\"Batch\" IS NULL");
        b.HasIndex(c => new { c.JobId, c.Epoch, c.Batch }).IsUnique();
        b.HasOne<Job>().WithMany().HasForeignKey(c => c.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
