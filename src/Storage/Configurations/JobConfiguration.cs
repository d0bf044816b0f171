using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Storage.Entities;

namespace Storage.Configurations;

internal sealed class JobConfiguration : IEntityTypeConfiguration<Job>
{
    public void Configure(EntityTypeBuilder<Job> b)
    {
        b.ToTable("Jobs");
        b.Property(j => j.OwnerId).HasMaxLength(100);
        b.HasIndex(j => j.OwnerId);
        b.Property(j => j.Name).HasMaxLength(200);
        // Stored by name so the table reads on its own and a reordered enum cannot change meaning.
        b.Property(j => j.Status).HasConversion<string>().HasMaxLength(16);
        b.HasIndex(j => j.Status);
        b.HasIndex(j => j.ExperimentId);
        // One job per trial: a decision that lost a race to create it fails its insert instead of training it twice.
        b.HasIndex(j => new { j.SearchId, j.TrialIndex }).IsUnique();
        b.Property(j => j.VariationName).HasMaxLength(100);
        b.Property(j => j.InitialWeightsSha256).HasMaxLength(64);
        // A job keeps its own copy of the spec, so losing the model or a finished job's data only clears the link.
        b.HasOne<Model>().WithMany().HasForeignKey(j => j.ModelId).OnDelete(DeleteBehavior.SetNull);
        b.HasOne<Dataset>().WithMany().HasForeignKey(j => j.DatasetId).OnDelete(DeleteBehavior.SetNull);
        b.HasOne<Dataset>().WithMany().HasForeignKey(j => j.ValidationDatasetId).OnDelete(DeleteBehavior.SetNull);
    }
}
