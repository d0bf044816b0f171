using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Storage.Migrations;

/// <summary>JobLeases: one row per job that a worker has trained, naming the run allowed to train it (hand-written, as InitialCreate).</summary>
[DbContext(typeof(TrainingDbContext))]
[Migration("20261206120000_JobLeases")]
public sealed class JobLeases : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.CreateTable(
            name: "JobLeases",
            columns: table => new
            {
                JobId = table.Column<long>(type: "INTEGER", nullable: false),
                NodeId = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                RunId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                ExpiresAt = table.Column<DateTime>(type: "TEXT", nullable: false),
            },
            constraints: table =>
            {
                table.PrimaryKey("PK_JobLeases", x => x.JobId);
                table.ForeignKey("FK_JobLeases_Jobs_JobId", x => x.JobId, "Jobs", "Id", onDelete: ReferentialAction.Cascade);
            });
        migrationBuilder.CreateIndex("IX_JobLeases_NodeId", "JobLeases", "NodeId");
    }

    protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.DropTable(name: "JobLeases");
}
