using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Storage.Migrations;

/// <summary>Experiments and the jobs' link to them. Hand-written like InitialCreate; the snapshot describes the result.</summary>
[DbContext(typeof(TrainingDbContext))]
[Migration("20261123140000_Experiments")]
public sealed class Experiments : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.CreateTable(
            name: "Experiments",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                RequestJson = table.Column<string>(type: "TEXT", nullable: false),
                CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
            },
            constraints: table => table.PrimaryKey("PK_Experiments", x => x.Id));
        // Plain columns: SQLite adds them in place, where a foreign key would force a rebuild of Jobs.
        migrationBuilder.AddColumn<long>("ExperimentId", "Jobs", type: "INTEGER", nullable: true);
        migrationBuilder.AddColumn<string>("VariationName", "Jobs", type: "TEXT", maxLength: 100, nullable: true);
        migrationBuilder.CreateIndex("IX_Jobs_ExperimentId", "Jobs", "ExperimentId");
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.DropIndex("IX_Jobs_ExperimentId", "Jobs");
        migrationBuilder.DropColumn("VariationName", "Jobs");
        migrationBuilder.DropColumn("ExperimentId", "Jobs");
        migrationBuilder.DropTable("Experiments");
    }
}
