using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Storage.Migrations
{
    /// <inheritdoc />
    public partial class FairShareYields : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Checkpoints_JobId_Epoch",
                table: "Checkpoints");

            migrationBuilder.AddColumn<int>(
                name: "Yields",
                table: "Jobs",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "Batch",
                table: "Checkpoints",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Checkpoints_JobId_Epoch",
                table: "Checkpoints",
                columns: new[] { "JobId", "Epoch" },
                unique: true,
                filter: "\"Batch\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_Checkpoints_JobId_Epoch_Batch",
                table: "Checkpoints",
                columns: new[] { "JobId", "Epoch", "Batch" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Checkpoints_JobId_Epoch",
                table: "Checkpoints");

            migrationBuilder.DropIndex(
                name: "IX_Checkpoints_JobId_Epoch_Batch",
                table: "Checkpoints");

            migrationBuilder.DropColumn(
                name: "Yields",
                table: "Jobs");

            migrationBuilder.DropColumn(
                name: "Batch",
                table: "Checkpoints");

            migrationBuilder.CreateIndex(
                name: "IX_Checkpoints_JobId_Epoch",
                table: "Checkpoints",
                columns: new[] { "JobId", "Epoch" },
                unique: true);
        }
    }
}
