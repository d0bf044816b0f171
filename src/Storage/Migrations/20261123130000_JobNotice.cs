using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Storage.Migrations;

/// <summary>Jobs.Notice: what the service recovered from for a job (hand-written, as InitialCreate).</summary>
[DbContext(typeof(TrainingDbContext))]
[Migration("20261123130000_JobNotice")]
public sealed class JobNotice : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) =>
        migrationBuilder.AddColumn<string>(name: "Notice", table: "Jobs", type: "TEXT", nullable: true);

    protected override void Down(MigrationBuilder migrationBuilder) =>
        migrationBuilder.DropColumn(name: "Notice", table: "Jobs");
}
