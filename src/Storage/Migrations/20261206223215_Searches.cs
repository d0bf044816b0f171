using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Storage.Migrations
{
    /// <inheritdoc />
    public partial class Searches : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "SearchId",
                table: "Jobs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "StopAfterEpoch",
                table: "Jobs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "TrialIndex",
                table: "Jobs",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "Searches",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    OwnerId = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    RequestJson = table.Column<string>(type: "TEXT", nullable: false),
                    TrialsJson = table.Column<string>(type: "TEXT", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    TrialsCreated = table.Column<int>(type: "INTEGER", nullable: false),
                    BestJobId = table.Column<long>(type: "INTEGER", nullable: true),
                    BestValue = table.Column<double>(type: "REAL", nullable: true),
                    Error = table.Column<string>(type: "TEXT", nullable: true),
                    Version = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    FinishedAt = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Searches", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Jobs_SearchId_TrialIndex",
                table: "Jobs",
                columns: new[] { "SearchId", "TrialIndex" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Searches_OwnerId",
                table: "Searches",
                column: "OwnerId");

            migrationBuilder.CreateIndex(
                name: "IX_Searches_Status",
                table: "Searches",
                column: "Status");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Searches");

            migrationBuilder.DropIndex(
                name: "IX_Jobs_SearchId_TrialIndex",
                table: "Jobs");

            migrationBuilder.DropColumn(
                name: "SearchId",
                table: "Jobs");

            migrationBuilder.DropColumn(
                name: "StopAfterEpoch",
                table: "Jobs");

            migrationBuilder.DropColumn(
                name: "TrialIndex",
                table: "Jobs");
        }
    }
}
