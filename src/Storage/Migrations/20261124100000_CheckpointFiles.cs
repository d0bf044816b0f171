using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Storage.Migrations;

/// <summary>
/// Checkpoint states move from blobs to files (<see cref="CheckpointFiles"/>): Checkpoints gets FileName instead of
/// State. The old table is kept as LegacyCheckpoints, whose blobs <see cref="StorageInitializer"/> writes out to files
/// and then drops; a migration cannot write files itself.
/// </summary>
[DbContext(typeof(TrainingDbContext))]
[Migration("20261124100000_CheckpointFiles")]
public sealed class CheckpointFiles : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.DropIndex(name: "IX_Checkpoints_JobId_Epoch", table: "Checkpoints");
        migrationBuilder.RenameTable(name: "Checkpoints", newName: StorageInitializer.LegacyCheckpoints);
        migrationBuilder.CreateTable(
            name: "Checkpoints",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                JobId = table.Column<long>(type: "INTEGER", nullable: false),
                Epoch = table.Column<int>(type: "INTEGER", nullable: false),
                FileName = table.Column<string>(type: "TEXT", maxLength: 400, nullable: false),
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
        migrationBuilder.CreateIndex("IX_Checkpoints_JobId_Epoch", "Checkpoints", ["JobId", "Epoch"], unique: true);
    }

    /// <summary>Back to the blob table in shape only, empty: states written to files stay there.</summary>
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.DropTable(name: "Checkpoints");
        migrationBuilder.Sql($"DROP TABLE IF EXISTS \"{StorageInitializer.LegacyCheckpoints}\";");
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
        migrationBuilder.CreateIndex("IX_Checkpoints_JobId_Epoch", "Checkpoints", ["JobId", "Epoch"], unique: true);
    }
}
