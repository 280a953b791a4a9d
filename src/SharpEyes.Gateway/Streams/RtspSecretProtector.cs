using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Streams;

/// <summary>
/// Encrypts the cameras' RTSP credentials (<see cref="RtspSecrets"/>) for <c>devices.rtsp_secret</c> with ASP.NET Core
/// Data Protection, under a key ring of its own: <c>{data-dir}/secret-keys</c> or <see cref="SecretOptions.KeyRingPath"/>
/// (0700, files 0600, through the same <see cref="SessionKeyRing"/> repository as the session keys) and an application
/// name of its own, so session keys and secret keys never mix. A store file without this key ring reveals no password.
/// </summary>
public sealed partial class RtspSecretProtector : IDisposable
{
    public const string KeysDirectory = "secret-keys";
    public const string ApplicationName = "SharpEyes.Secrets";
    public const string Purpose = "SharpEyes.RtspSecrets.v1";

    /// <summary>How long a key is the default one before Data Protection rolls a new one (it is kept for reading).</summary>
    private static readonly TimeSpan KeyLifetime = TimeSpan.FromDays(90);

    private static readonly TimeSpan KeyRingReload = TimeSpan.FromMilliseconds(20);

    private readonly ServiceProvider _services;
    private readonly IDataProtector _protector;
    private readonly IKeyManager _keys;
    private readonly ILogger _logger;

    public RtspSecretProtector(IOptions<GatewayOptions> options, ILoggerFactory loggers)
    {
        var o = options.Value;
        KeyRingPath = Path.GetFullPath(o.Secrets.KeyRingPath.Length > 0 ? o.Secrets.KeyRingPath : Path.Combine(o.DataDir, KeysDirectory));
        _logger = loggers.CreateLogger<RtspSecretProtector>();
        var services = new ServiceCollection();
        services.AddSingleton(loggers);
        services.AddDataProtection().SetApplicationName(ApplicationName).SetDefaultKeyLifetime(KeyLifetime);
        var path = KeyRingPath;
        services.Configure<KeyManagementOptions>(k => k.XmlRepository = new SessionKeyRing(path, loggers));
        _services = services.BuildServiceProvider();
        _protector = _services.GetRequiredService<IDataProtectionProvider>().CreateProtector(Purpose);
        _keys = _services.GetRequiredService<IKeyManager>();
    }

    /// <summary>The key ring's directory.</summary>
    public string KeyRingPath { get; }

    /// <summary>A protector for other secrets on the same key ring, kept apart by <paramref name="purpose"/> (SIP passwords).</summary>
    public IDataProtector Protector(string purpose) => _services.GetRequiredService<IDataProtectionProvider>().CreateProtector(purpose);

    /// <summary>The stored form of <paramref name="secrets"/>: the protected JSON (base64url); null when there is nothing to store.</summary>
    public string? Protect(RtspSecrets? secrets) => RtspSecrets.Serialize(secrets) is { } json ? _protector.Protect(json) : null;

    /// <summary>
    /// Reads a stored value: a protected payload, or the clear forms of stores before version 7 (JSON, or "user\npassword").
    /// Throws <see cref="CryptographicException"/> when the payload's key is not in the key ring (or it was altered).
    /// </summary>
    public RtspSecrets? Unprotect(string? stored) =>
        string.IsNullOrEmpty(stored) ? null : RtspSecrets.Parse(IsClear(stored) ? stored : _protector.Unprotect(stored));

    /// <summary>Whether a stored value is still clear text (written before version 7): JSON starts with '{', the oldest form has a line break; a protected payload is base64url.</summary>
    public static bool IsClear(string stored) => stored.StartsWith('{') || stored.Contains('\n', StringComparison.Ordinal);

    /// <summary>The id of the key that protected a stored value (Data Protection's header: 4 magic bytes, then the key's GUID); null for clear or unreadable values.</summary>
    public static Guid? KeyIdOf(string? stored)
    {
        if (string.IsNullOrEmpty(stored) || IsClear(stored))
        {
            return null;
        }

        try
        {
            var bytes = WebEncoders.Base64UrlDecode(stored);
            return bytes.Length >= 20 ? new Guid(bytes.AsSpan(4, 16)) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Creates a key, active from now, that becomes the default one for every protection after this call. "Now" is the
    /// machine's clock, the one Data Protection picks its default key by (the newest activated), not the gateway's.
    /// Data Protection reloads its cached key ring in the background, so this waits (at most 10 s) until a protection
    /// uses the new key: whatever is protected after it returns is protected with the new key.
    /// </summary>
    public async Task<IKey> CreateKeyAsync(CancellationToken ct = default)
    {
        var now = DateTimeOffset.UtcNow;
        var key = _keys.CreateNewKey(now, now + KeyLifetime);
        LogKeyCreated(_logger, key.KeyId, KeyRingPath);
        for (var waited = TimeSpan.Zero; KeyIdOf(_protector.Protect("probe")) != key.KeyId; waited += KeyRingReload)
        {
            if (waited > TimeSpan.FromSeconds(10))
            {
                throw new InvalidOperationException($"the new secret key {key.KeyId} did not become the default one within 10 s");
            }

            await Task.Delay(KeyRingReload, ct).ConfigureAwait(false);
        }

        return key;
    }

    /// <summary>Says once, at start, how many cameras' stored credentials could not be read (no password in it).</summary>
    public void ReportUnreadable(int count)
    {
        if (count > 0)
        {
            LogUnreadable(_logger, count, KeyRingPath);
        }
    }

    public void Dispose() => _services.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Created RTSP secret key {KeyId} in {Path}; it protects every credential stored from now on")]
    private static partial void LogKeyCreated(ILogger logger, Guid keyId, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stored RTSP credentials of {Count} cameras cannot be decrypted with the key ring {Path} (a store restored without its secret-keys?): these cameras have no credentials until they are registered or updated with them again")]
    private static partial void LogUnreadable(ILogger logger, int count, string path);
}
