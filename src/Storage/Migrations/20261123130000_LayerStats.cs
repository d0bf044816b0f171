using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Storage.Migrations;

/// <summary>Per-epoch, per-layer diagnostics. Hand-written like InitialCreate; the snapshot describes the result.</summary>
[DbContext(typeof(TrainingDbContext))]
[Migration("20261123130000_LayerStats")]
public sealed class LayerStats : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.CreateTable(
            name: "LayerStats",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                JobId = table.Column<long>(type: "INTEGER", nullable: false),
                Epoch = table.Column<int>(type: "INTEGER", nullable: false),
                LayerIndex = table.Column<int>(type: "INTEGER", nullable: false),
                Type = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                WeightNorm = table.Column<double>(type: "REAL", nullable: true),
                GradNorm = table.Column<double>(type: "REAL", nullable: true),
                GradToWeight = table.Column<double>(type: "REAL", nullable: true),
                Mean = table.Column<double>(type: "REAL", nullable: false),
                Std = table.Column<double>(type: "REAL", nullable: false),
                DeadFraction = table.Column<double>(type: "REAL", nullable: true),
                HistogramMin = table.Column<double>(type: "REAL", nullable: false),
                HistogramMax = table.Column<double>(type: "REAL", nullable: false),
                HistogramJson = table.Column<string>(type: "TEXT", nullable: false),
            },
            constraints: table =>
            {
                table.PrimaryKey("PK_LayerStats", x => x.Id);
                table.ForeignKey("FK_LayerStats_Jobs_JobId", x => x.JobId, "Jobs", "Id", onDelete: ReferentialAction.Cascade);
            });
        migrationBuilder.CreateIndex("IX_LayerStats_JobId_Epoch_LayerIndex", "LayerStats", ["JobId", "Epoch", "LayerIndex"], unique: true);
    }

    protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.DropTable("LayerStats");
}
