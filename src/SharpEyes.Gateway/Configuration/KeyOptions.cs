using System.ComponentModel.DataAnnotations;

namespace SharpEyes.Gateway.Configuration;

/// <summary>The "SharpEyes:Keys" section: API keys' expiry (an expiry time per key is set with Admin.CreateApiKey or Admin.SetApiKeyExpiry).</summary>
public sealed class KeyOptions
{
    /// <summary>
    /// A key that expires within this time is reported: counted in <c>sharpeyes_api_keys_expiring{within}</c> and
    /// named in a warning in the log once a day per key, so that an operator replaces it before devices lose access.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "365.00:00:00")] public TimeSpan ExpiryWarning { get; set; } = TimeSpan.FromDays(7);
}
