using System.Security.Cryptography;
using System.Text;

namespace Api.Security;

/// <summary>How keys look and how they are stored.</summary>
public static class ApiKeys
{
    public const string Header = "X-Api-Key";
    public const string QueryParameter = "access_token";

    /// <summary>Where the Hangfire Dashboard is mounted: the only path that reads <see cref="DashboardCookie"/>.</summary>
    public const string DashboardPath = "/hangfire";

    /// <summary>
    /// The HttpOnly cookie that carries an admin key to the Hangfire Dashboard, which a browser loads as pages and so
    /// cannot send <see cref="Header"/>; set by POST /hangfire/sign-in and sent only under <see cref="DashboardPath"/>.
    /// </summary>
    public const string DashboardCookie = "hangfire_key";
    private const string Scheme = "nnk_";

    /// <summary>32 random bytes, base64url: 256 bits of entropy, so the stored SHA-256 cannot be reversed by guessing.</summary>
    public static string Generate() => Scheme + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// Plain SHA-256, not a password hash: keys are random and high-entropy, so there is no dictionary to
    /// slow down, and each request's lookup stays cheap.
    /// </summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Enough of the key to tell keys apart in listings, far too little to use.</summary>
    public static string Prefix(string key) => key[..Math.Min(key.Length, 8)];

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
