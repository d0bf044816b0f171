using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class LayerStatConfiguration : IEntityTypeConfiguration<LayerStatRow>
{
    public void Configure(EntityTypeBuilder<LayerStatRow> b)
    {
        b.ToTable("LayerStats");
        b.Property(s => s.Type).HasMaxLength(64);
        b.HasIndex(s => new { s.JobId, s.Epoch, s.LayerIndex }).IsUnique();
        b.HasOne<Job>().WithMany().HasForeignKey(s => s.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}
