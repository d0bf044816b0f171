using System.Net;
using System.Net.Http.Json;

namespace Api.Tests.Security;

/// <summary>Keys: the first admin key, who may do what, listing without secrets, revocation.</summary>
public sealed class ApiKeyTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public void FirstStartWritesTheAdminKeyToAFileOnlyItsOwnerCanRead()
    {
        var path = Path.Combine(factory.DataDirectory, "admin.key");
        Assert.StartsWith("nnk_", factory.AdminKey);
        Assert.True(factory.AdminKey.Length >= 40, factory.AdminKey.Length.ToString());
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task RequestsWithoutAValidKeyAre401ProblemsExceptHealthAndDocs()
    {
        foreach (var key in new[] { null, "", "nnk_not-a-key", factory.AdminKey + "x" })
        {
            var response = await factory.CreateClient(key).GetAsync("/jobs");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            await Problem.AssertAsync(response, HttpStatusCode.Unauthorized);
        }
        var anonymous = factory.CreateClient(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/swagger/v1/swagger.json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/")).StatusCode);
        // A key in the query string counts on the hub only (where browsers cannot send headers).
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"/jobs?access_token={factory.AdminKey}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.PostAsync($"/hubs/training/negotiate?negotiateVersion=1&access_token={factory.AdminKey}", null)).StatusCode);
        // The hub's negotiate needs the key too.
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/hubs/training/negotiate?negotiateVersion=1", null)).StatusCode);
    }

    [Fact]
    public async Task AdminsCreateListAndRevokeKeysWhichAreShownOnlyOnce()
    {
        var admin = factory.CreateClient();
        var created = await (await admin.PostAsJsonAsync("/keys", new { owner = "carol" })).ReadJsonAsync();
        var key = created.GetProperty("key").GetString()!;
        var id = created.GetProperty("id").GetInt64();
        Assert.False(created.GetProperty("admin").GetBoolean());

        var carol = factory.CreateClient(key);
        Assert.Equal(HttpStatusCode.OK, (await carol.GetAsync("/jobs")).StatusCode);
        // Not an admin: key management is 403.
        var forbidden = await carol.PostAsJsonAsync("/keys", new { owner = "mallory", admin = true });
        await Problem.AssertAsync(forbidden, HttpStatusCode.Forbidden);
        await Problem.AssertAsync(await carol.GetAsync("/keys"), HttpStatusCode.Forbidden);

        var list = await (await admin.GetAsync("/keys")).Content.ReadAsStringAsync();
        Assert.Contains("\"carol\"", list);
        Assert.DoesNotContain(key, list);
        Assert.DoesNotContain(factory.AdminKey, list);
        Assert.DoesNotContain("hash", list, StringComparison.OrdinalIgnoreCase);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/keys/{id}")).StatusCode);
        await Problem.AssertAsync(await carol.GetAsync("/jobs"), HttpStatusCode.Unauthorized);
        await Problem.AssertAsync(await admin.DeleteAsync("/keys/999999"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task TheOpenApiDocumentDeclaresTheKeySoSwaggerUiCanSendIt()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await factory.CreateClient(null).GetStringAsync("/swagger/v1/swagger.json"));
        var scheme = doc.RootElement.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        Assert.Equal("apiKey", scheme.GetProperty("type").GetString());
        Assert.Equal("header", scheme.GetProperty("in").GetString());
        Assert.Equal("X-Api-Key", scheme.GetProperty("name").GetString());
        Assert.True(doc.RootElement.GetProperty("security")[0].TryGetProperty("ApiKey", out _));
    }

    [Fact]
    public async Task OwnerNamesAreValidated()
    {
        var admin = factory.CreateClient();
        foreach (var owner in new[] { "", " ", "a b", new string('x', 101), "ünïcode", "../etc" })
            await Problem.AssertAsync(await admin.PostAsJsonAsync("/keys", new { owner }), HttpStatusCode.BadRequest, "owner");
    }
}

/// <summary>Keys switched off, as on a laptop.</summary>
public sealed class OpenServiceFactory : ServiceFactory
{
    protected override IEnumerable<(string Key, string Value)> Settings => [("Security:RequireApiKey", "false")];
}

public sealed class OpenServiceTests(OpenServiceFactory factory) : IClassFixture<OpenServiceFactory>
{
    [Fact]
    public async Task WithoutRequireApiKeyKeylessRequestsActAsTheDefaultOwnerButBadKeysStillFail()
    {
        var keyless = factory.CreateClient(null);
        var id = await keyless.CreateModelAsync();
        Assert.Equal(HttpStatusCode.OK, (await keyless.GetAsync($"/models/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await keyless.GetAsync("/keys")).StatusCode);
        // The default owner's model is not the admin's: owners still apply.
        await Problem.AssertAsync(await factory.CreateClient().GetAsync($"/models/{id}"), HttpStatusCode.NotFound);
        await Problem.AssertAsync(await factory.CreateClient("nnk_wrong").GetAsync("/models"), HttpStatusCode.Unauthorized);
    }
}
