using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Storage.Migrations;

/// <summary>Models.WeightsSha256 and Jobs.InitialWeightsSha256: imported weights files (hand-written, as InitialCreate).</summary>
[DbContext(typeof(TrainingDbContext))]
[Migration("20261206120000_ImportedWeights")]
public sealed class ImportedWeights : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.AddColumn<string>(name: "WeightsSha256", table: "Models", type: "TEXT", maxLength: 64, nullable: true);
        migrationBuilder.AddColumn<string>(name: "InitialWeightsSha256", table: "Jobs", type: "TEXT", maxLength: 64, nullable: true);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.DropColumn(name: "WeightsSha256", table: "Models");
        migrationBuilder.DropColumn(name: "InitialWeightsSha256", table: "Jobs");
    }
}
