using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Storage.Migrations;

/// <summary>
/// Written by hand (the EF design-time package is not available here); the model snapshot beside it
/// must describe the same schema, which a Storage test checks with HasPendingModelChanges.
/// </summary>
[DbContext(typeof(TrainingDbContext))]
[Migration("20261123120000_InitialCreate")]
public sealed class InitialCreate : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.CreateTable(
            name: "Datasets",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                Format = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                Shape = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                SampleCount = table.Column<int>(type: "INTEGER", nullable: false),
                Classes = table.Column<int>(type: "INTEGER", nullable: false),
                TargetWidth = table.Column<int>(type: "INTEGER", nullable: false),
                Normalization = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                FileName = table.Column<string>(type: "TEXT", maxLength: 400, nullable: false),
                SizeBytes = table.Column<long>(type: "INTEGER", nullable: false),
                SourceJson = table.Column<string>(type: "TEXT", nullable: true),
                CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
            },
            constraints: table => table.PrimaryKey("PK_Datasets", x => x.Id));

        migrationBuilder.CreateTable(
            name: "Models",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                SpecJson = table.Column<string>(type: "TEXT", nullable: false),
                ParameterCount = table.Column<long>(type: "INTEGER", nullable: false),
                OutputShape = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
            },
            constraints: table => table.PrimaryKey("PK_Models", x => x.Id));

        migrationBuilder.CreateTable(
            name: "Jobs",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                ModelId = table.Column<long>(type: "INTEGER", nullable: true),
                DatasetId = table.Column<long>(type: "INTEGER", nullable: true),
                ValidationDatasetId = table.Column<long>(type: "INTEGER", nullable: true),
                SpecJson = table.Column<string>(type: "TEXT", nullable: false),
                OptionsJson = table.Column<string>(type: "TEXT", nullable: false),
                Epochs = table.Column<int>(type: "INTEGER", nullable: false),
                CheckpointEvery = table.Column<int>(type: "INTEGER", nullable: false),
                Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                CurrentEpoch = table.Column<int>(type: "INTEGER", nullable: false),
                Attempts = table.Column<int>(type: "INTEGER", nullable: false),
                EarlyStopped = table.Column<bool>(type: "INTEGER", nullable: false),
                Error = table.Column<string>(type: "TEXT", nullable: true),
                CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                StartedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                FinishedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                UpdatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
            },
            constraints: table =>
            {
                table.PrimaryKey("PK_Jobs", x => x.Id);
                table.ForeignKey("FK_Jobs_Datasets_DatasetId", x => x.DatasetId, "Datasets", "Id", onDelete: ReferentialAction.SetNull);
                table.ForeignKey("FK_Jobs_Datasets_ValidationDatasetId", x => x.ValidationDatasetId, "Datasets", "Id", onDelete: ReferentialAction.SetNull);
                table.ForeignKey("FK_Jobs_Models_ModelId", x => x.ModelId, "Models", "Id", onDelete: ReferentialAction.SetNull);
            });

        migrationBuilder.CreateTable(
            name: "Checkpoints",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                JobId = table.Column<long>(type: "INTEGER", nullable: false),
                Epoch = table.Column<int>(type: "INTEGER", nullable: false),
                State = table.Column<byte[]>(type: "BLOB", nullable: false),
                SizeBytes = table.Column<long>(type: "INTEGER", nullable: false),
                Sha256 = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                IsBest = table.Column<bool>(type: "INTEGER", nullable: false),
                CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
            },
            constraints: table =>
            {
                table.PrimaryKey("PK_Checkpoints", x => x.Id);
                table.ForeignKey("FK_Checkpoints_Jobs_JobId", x => x.JobId, "Jobs", "Id", onDelete: ReferentialAction.Cascade);
            });

        migrationBuilder.CreateTable(
            name: "EpochMetrics",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                JobId = table.Column<long>(type: "INTEGER", nullable: false),
                Epoch = table.Column<int>(type: "INTEGER", nullable: false),
                TrainLoss = table.Column<float>(type: "REAL", nullable: false),
                TrainAccuracy = table.Column<float>(type: "REAL", nullable: true),
                ValLoss = table.Column<float>(type: "REAL", nullable: true),
                ValAccuracy = table.Column<float>(type: "REAL", nullable: true),
                LearningRate = table.Column<float>(type: "REAL", nullable: false),
                Seconds = table.Column<double>(type: "REAL", nullable: false),
                SamplesPerSecond = table.Column<double>(type: "REAL", nullable: false),
                IsBest = table.Column<bool>(type: "INTEGER", nullable: false),
                CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
            },
            constraints: table =>
            {
                table.PrimaryKey("PK_EpochMetrics", x => x.Id);
                table.ForeignKey("FK_EpochMetrics_Jobs_JobId", x => x.JobId, "Jobs", "Id", onDelete: ReferentialAction.Cascade);
            });

        migrationBuilder.CreateIndex("IX_Checkpoints_JobId_Epoch", "Checkpoints", ["JobId", "Epoch"], unique: true);
        migrationBuilder.CreateIndex("IX_EpochMetrics_JobId_Epoch", "EpochMetrics", ["JobId", "Epoch"], unique: true);
        migrationBuilder.CreateIndex("IX_Jobs_DatasetId", "Jobs", "DatasetId");
        migrationBuilder.CreateIndex("IX_Jobs_ModelId", "Jobs", "ModelId");
        migrationBuilder.CreateIndex("IX_Jobs_Status", "Jobs", "Status");
        migrationBuilder.CreateIndex("IX_Jobs_ValidationDatasetId", "Jobs", "ValidationDatasetId");
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.DropTable("Checkpoints");
        migrationBuilder.DropTable("EpochMetrics");
        migrationBuilder.DropTable("Jobs");
        migrationBuilder.DropTable("Datasets");
        migrationBuilder.DropTable("Models");
    }
}
