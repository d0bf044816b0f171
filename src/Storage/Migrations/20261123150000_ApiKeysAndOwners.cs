using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Storage.Migrations;

/// <summary>
/// API keys, and an owner on every data set, model, job and experiment. Hand-written like InitialCreate. Rows that
/// existed before keys did go to "admin", the owner of the key created at the first start.
/// </summary>
[DbContext(typeof(TrainingDbContext))]
[Migration("20261123150000_ApiKeysAndOwners")]
public sealed class ApiKeysAndOwners : Migration
{
    private static readonly string[] Owned = ["Datasets", "Models", "Jobs", "Experiments"];

    protected override void Up(MigrationBuilder migrationBuilder)
    {
        foreach (var table in Owned)
        {
            migrationBuilder.AddColumn<string>(name: "OwnerId", table: table, type: "TEXT", maxLength: 100, nullable: false, defaultValue: "admin");
            migrationBuilder.CreateIndex($"IX_{table}_OwnerId", table, "OwnerId");
        }

        migrationBuilder.CreateTable(
            name: "ApiKeys",
            columns: table => new
            {
                Id = table.Column<long>(type: "INTEGER", nullable: false).Annotation("Sqlite:Autoincrement", true),
                Owner = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                IsAdmin = table.Column<bool>(type: "INTEGER", nullable: false),
                Hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                Prefix = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                RevokedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
            },
            constraints: table => table.PrimaryKey("PK_ApiKeys", x => x.Id));
        migrationBuilder.CreateIndex("IX_ApiKeys_Hash", "ApiKeys", "Hash", unique: true);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.DropTable("ApiKeys");
        foreach (var table in Owned)
        {
            migrationBuilder.DropIndex($"IX_{table}_OwnerId", table);
            migrationBuilder.DropColumn("OwnerId", table);
        }
    }
}
