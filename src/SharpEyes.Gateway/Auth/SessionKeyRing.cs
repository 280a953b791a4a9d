using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using SharpEyes.Gateway.Storage;

namespace SharpEyes.Gateway.Auth;

/// <summary>
/// Where the keys that encrypt session and antiforgery cookies are kept: <c>{data-dir}/session-keys</c>, through
/// Data Protection's own FileSystemXmlRepository (each key written through a 0600 temporary file and renamed). The
/// directory is created 0700 (or tightened, with a warning) on first use, not when the options are built: the store's
/// start reports an unusable data directory first, in its own words. The RTSP credentials' key ring
/// (<c>{data-dir}/secret-keys</c>, Streams/RtspSecretProtector.cs) is kept through this class too.
/// </summary>
internal sealed partial class SessionKeyRing(string directory, ILoggerFactory loggers) : IXmlRepository
{
    private readonly Lazy<FileSystemXmlRepository> _files = new(() =>
    {
        PrivateFiles.CreateDirectory(directory);
        if (PrivateFiles.Tighten(directory) is (var was, var now))
        {
            LogTightened(loggers.CreateLogger<SessionKeyRing>(), directory, PrivateFiles.Octal(was), PrivateFiles.Octal(now));
        }

        return new FileSystemXmlRepository(new DirectoryInfo(directory), loggers);
    });

    public IReadOnlyCollection<XElement> GetAllElements() => _files.Value.GetAllElements();

    public void StoreElement(XElement element, string friendlyName) => _files.Value.StoreElement(element, friendlyName);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path} was readable by others (mode {Was}); tightened to {Now}")]
    private static partial void LogTightened(ILogger logger, string path, string was, string now);
}
