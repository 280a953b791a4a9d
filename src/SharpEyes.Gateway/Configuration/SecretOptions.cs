namespace SharpEyes.Gateway.Configuration;

/// <summary>
/// The "SharpEyes:Secrets" section: how secrets kept in the store (the cameras' RTSP credentials) are encrypted at rest.
/// </summary>
public sealed class SecretOptions
{
    /// <summary>
    /// The directory of the key ring that encrypts the RTSP credentials in the store (ASP.NET Core Data Protection keys,
    /// directory 0700, files 0600). Empty: <c>{data-dir}/secret-keys</c>. A store without its key ring reveals no
    /// password, and its cameras have no usable credentials: back it up with the store (<c>sharpeyes backup</c> does).
    /// </summary>
    public string KeyRingPath { get; set; } = "";
}
