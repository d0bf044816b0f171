using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Storage.Migrations;

/// <summary>The model as of the last migration, hand-written to match what the configurations build.</summary>
[DbContext(typeof(TrainingDbContext))]
public sealed class TrainingDbContextModelSnapshot : ModelSnapshot
{
    protected override void BuildModel(ModelBuilder modelBuilder)
    {
        modelBuilder.HasAnnotation("ProductVersion", "10.0.14");

        modelBuilder.Entity("Storage.Entities.ApiKey", b =>
        {
            b.Property<long>("Id").ValueGeneratedOnAdd().HasColumnType("INTEGER");
            b.Property<DateTime>("CreatedAt").HasColumnType("TEXT");
            b.Property<string>("Hash").IsRequired().HasMaxLength(64).HasColumnType("TEXT");
            b.Property<bool>("IsAdmin").HasColumnType("INTEGER");
            b.Property<string>("Owner").IsRequired().HasMaxLength(100).HasColumnType("TEXT");
            b.Property<string>("Prefix").IsRequired().HasMaxLength(16).HasColumnType("TEXT");
            b.Property<DateTime?>("RevokedAt").HasColumnType("TEXT");
            b.HasKey("Id");
            b.HasIndex("Hash").IsUnique();
            b.ToTable("ApiKeys");
        });

        modelBuilder.Entity("Storage.Entities.Checkpoint", b =>
        {
            b.Property<long>("Id").ValueGeneratedOnAdd().HasColumnType("INTEGER");
            b.Property<DateTime>("CreatedAt").HasColumnType("TEXT");
            b.Property<int>("Epoch").HasColumnType("INTEGER");
            b.Property<string>("FileName").IsRequired().HasMaxLength(400).HasColumnType("TEXT");
            b.Property<bool>("IsBest").HasColumnType("INTEGER");
            b.Property<long>("JobId").HasColumnType("INTEGER");
            b.Property<string>("Sha256").IsRequired().HasMaxLength(64).HasColumnType("TEXT");
            b.Property<long>("SizeBytes").HasColumnType("INTEGER");
            b.HasKey("Id");
            b.HasIndex("JobId", "Epoch").IsUnique();
            b.ToTable("Checkpoints");
        });

        modelBuilder.Entity("Storage.Entities.Dataset", b =>
        {
            b.Property<long>("Id").ValueGeneratedOnAdd().HasColumnType("INTEGER");
            b.Property<int>("Classes").HasColumnType("INTEGER");
            b.Property<DateTime>("CreatedAt").HasColumnType("TEXT");
            b.Property<string>("FileName").IsRequired().HasMaxLength(400).HasColumnType("TEXT");
            b.Property<string>("Format").IsRequired().HasMaxLength(16).HasColumnType("TEXT");
            b.Property<string>("Name").IsRequired().HasMaxLength(200).HasColumnType("TEXT");
            b.Property<string>("OwnerId").IsRequired().HasMaxLength(100).HasColumnType("TEXT");
            b.Property<string>("Normalization").IsRequired().HasMaxLength(16).HasColumnType("TEXT");
            b.Property<int>("SampleCount").HasColumnType("INTEGER");
            b.Property<string>("Shape").IsRequired().HasMaxLength(200).HasColumnType("TEXT");
            b.Property<long>("SizeBytes").HasColumnType("INTEGER");
            b.Property<string>("SourceJson").HasColumnType("TEXT");
            b.Property<int>("TargetWidth").HasColumnType("INTEGER");
            b.HasKey("Id");
            b.HasIndex("OwnerId");
            b.ToTable("Datasets");
        });

        modelBuilder.Entity("Storage.Entities.EpochMetric", b =>
        {
            b.Property<long>("Id").ValueGeneratedOnAdd().HasColumnType("INTEGER");
            b.Property<DateTime>("CreatedAt").HasColumnType("TEXT");
            b.Property<int>("Epoch").HasColumnType("INTEGER");
            b.Property<bool>("IsBest").HasColumnType("INTEGER");
            b.Property<long>("JobId").HasColumnType("INTEGER");
            b.Property<float>("LearningRate").HasColumnType("REAL");
            b.Property<double>("SamplesPerSecond").HasColumnType("REAL");
            b.Property<double>("Seconds").HasColumnType("REAL");
            b.Property<float?>("TrainAccuracy").HasColumnType("REAL");
            b.Property<float>("TrainLoss").HasColumnType("REAL");
            b.Property<float?>("ValAccuracy").HasColumnType("REAL");
            b.Property<float?>("ValLoss").HasColumnType("REAL");
            b.HasKey("Id");
            b.HasIndex("JobId", "Epoch").IsUnique();
            b.ToTable("EpochMetrics");
        });

        modelBuilder.Entity("Storage.Entities.Experiment", b =>
        {
            b.Property<long>("Id").ValueGeneratedOnAdd().HasColumnType("INTEGER");
            b.Property<DateTime>("CreatedAt").HasColumnType("TEXT");
            b.Property<string>("Name").HasMaxLength(200).HasColumnType("TEXT");
            b.Property<string>("RequestJson").IsRequired().HasColumnType("TEXT");
            b.Property<string>("OwnerId").IsRequired().HasMaxLength(100).HasColumnType("TEXT");
            b.HasKey("Id");
            b.HasIndex("OwnerId");
            b.ToTable("Experiments");
        });

        modelBuilder.Entity("Storage.Entities.Job", b =>
        {
            b.Property<long>("Id").ValueGeneratedOnAdd().HasColumnType("INTEGER");
            b.Property<int>("Attempts").HasColumnType("INTEGER");
            b.Property<int>("CheckpointEvery").HasColumnType("INTEGER");
            b.Property<DateTime>("CreatedAt").HasColumnType("TEXT");
            b.Property<int>("CurrentEpoch").HasColumnType("INTEGER");
            b.Property<long?>("DatasetId").HasColumnType("INTEGER");
            b.Property<bool>("EarlyStopped").HasColumnType("INTEGER");
            b.Property<int>("Epochs").HasColumnType("INTEGER");
            b.Property<string>("Error").HasColumnType("TEXT");
            b.Property<long?>("ExperimentId").HasColumnType("INTEGER");
            b.Property<DateTime?>("FinishedAt").HasColumnType("TEXT");
            b.Property<string>("InitialWeightsSha256").HasMaxLength(64).HasColumnType("TEXT");
            b.Property<long?>("ModelId").HasColumnType("INTEGER");
            b.Property<string>("Name").HasMaxLength(200).HasColumnType("TEXT");
            b.Property<string>("Notice").HasColumnType("TEXT");
            b.Property<string>("OwnerId").IsRequired().HasMaxLength(100).HasColumnType("TEXT");
            b.Property<string>("OptionsJson").IsRequired().HasColumnType("TEXT");
            b.Property<string>("SpecJson").IsRequired().HasColumnType("TEXT");
            b.Property<DateTime?>("StartedAt").HasColumnType("TEXT");
            b.Property<string>("Status").IsRequired().HasMaxLength(16).HasColumnType("TEXT");
            b.Property<DateTime>("UpdatedAt").HasColumnType("TEXT");
            b.Property<long?>("ValidationDatasetId").HasColumnType("INTEGER");
            b.Property<string>("VariationName").HasMaxLength(100).HasColumnType("TEXT");
            b.HasKey("Id");
            b.HasIndex("DatasetId");
            b.HasIndex("ExperimentId");
            b.HasIndex("ModelId");
            b.HasIndex("Status");
            b.HasIndex("ValidationDatasetId");
            b.HasIndex("OwnerId");
            b.ToTable("Jobs");
        });

        modelBuilder.Entity("Storage.Entities.JobLease", b =>
        {
            b.Property<long>("JobId").HasColumnType("INTEGER");
            b.Property<DateTime>("ExpiresAt").HasColumnType("TEXT");
            b.Property<string>("NodeId").IsRequired().HasMaxLength(100).HasColumnType("TEXT");
            b.Property<string>("RunId").IsRequired().HasMaxLength(32).HasColumnType("TEXT");
            b.HasKey("JobId");
            b.HasIndex("NodeId");
            b.ToTable("JobLeases");
        });

        modelBuilder.Entity("Storage.Entities.LayerStatRow", b =>
        {
            b.Property<long>("Id").ValueGeneratedOnAdd().HasColumnType("INTEGER");
            b.Property<double?>("DeadFraction").HasColumnType("REAL");
            b.Property<int>("Epoch").HasColumnType("INTEGER");
            b.Property<double?>("GradNorm").HasColumnType("REAL");
            b.Property<double?>("GradToWeight").HasColumnType("REAL");
            b.Property<string>("HistogramJson").IsRequired().HasColumnType("TEXT");
            b.Property<double>("HistogramMax").HasColumnType("REAL");
            b.Property<double>("HistogramMin").HasColumnType("REAL");
            b.Property<long>("JobId").HasColumnType("INTEGER");
            b.Property<int>("LayerIndex").HasColumnType("INTEGER");
            b.Property<double>("Mean").HasColumnType("REAL");
            b.Property<double>("Std").HasColumnType("REAL");
            b.Property<string>("Type").IsRequired().HasMaxLength(64).HasColumnType("TEXT");
            b.Property<double?>("WeightNorm").HasColumnType("REAL");
            b.HasKey("Id");
            b.HasIndex("JobId", "Epoch", "LayerIndex").IsUnique();
            b.ToTable("LayerStats");
        });

        modelBuilder.Entity("Storage.Entities.Model", b =>
        {
            b.Property<long>("Id").ValueGeneratedOnAdd().HasColumnType("INTEGER");
            b.Property<DateTime>("CreatedAt").HasColumnType("TEXT");
            b.Property<string>("Name").IsRequired().HasMaxLength(200).HasColumnType("TEXT");
            b.Property<string>("OwnerId").IsRequired().HasMaxLength(100).HasColumnType("TEXT");
            b.Property<string>("OutputShape").IsRequired().HasMaxLength(200).HasColumnType("TEXT");
            b.Property<long>("ParameterCount").HasColumnType("INTEGER");
            b.Property<string>("SpecJson").IsRequired().HasColumnType("TEXT");
            b.Property<string>("WeightsSha256").HasMaxLength(64).HasColumnType("TEXT");
            b.HasKey("Id");
            b.HasIndex("OwnerId");
            b.ToTable("Models");
        });

        modelBuilder.Entity("Storage.Entities.Checkpoint", b =>
            b.HasOne("Storage.Entities.Job", null).WithMany().HasForeignKey("JobId").OnDelete(DeleteBehavior.Cascade).IsRequired());

        modelBuilder.Entity("Storage.Entities.EpochMetric", b =>
            b.HasOne("Storage.Entities.Job", null).WithMany().HasForeignKey("JobId").OnDelete(DeleteBehavior.Cascade).IsRequired());

        modelBuilder.Entity("Storage.Entities.JobLease", b =>
            b.HasOne("Storage.Entities.Job", null).WithOne().HasForeignKey("Storage.Entities.JobLease", "JobId").OnDelete(DeleteBehavior.Cascade).IsRequired());

        modelBuilder.Entity("Storage.Entities.LayerStatRow", b =>
            b.HasOne("Storage.Entities.Job", null).WithMany().HasForeignKey("JobId").OnDelete(DeleteBehavior.Cascade).IsRequired());

        modelBuilder.Entity("Storage.Entities.Job", b =>
        {
            b.HasOne("Storage.Entities.Dataset", null).WithMany().HasForeignKey("DatasetId").OnDelete(DeleteBehavior.SetNull);
            b.HasOne("Storage.Entities.Model", null).WithMany().HasForeignKey("ModelId").OnDelete(DeleteBehavior.SetNull);
            b.HasOne("Storage.Entities.Dataset", null).WithMany().HasForeignKey("ValidationDatasetId").OnDelete(DeleteBehavior.SetNull);
        });
    }
}
