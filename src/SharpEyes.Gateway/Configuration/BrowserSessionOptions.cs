using System.ComponentModel.DataAnnotations;

namespace SharpEyes.Gateway.Configuration;

/// <summary>
/// The "SharpEyes:Sessions" section: browser sessions (an operator's, planner's or admin's API key exchanged at
/// <c>POST /api/session</c> for a session cookie) and the live event stream <c>GET /api/events</c>.
/// </summary>
public sealed class BrowserSessionOptions
{
    /// <summary>
    /// A session ends when no request has renewed it for this long (sliding expiry: a request in the second half of the
    /// period renews it for another period). An open console page renews it by calling <c>GET /api/session</c>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")] public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromHours(8);

    /// <summary>
    /// A session ends this long after its sign-in however active it is (the absolute limit); an open event stream is
    /// ended then too. Sign in again for a new one.
    /// </summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")] public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// An event stream that has sent nothing for this long sends an <c>event: heartbeat</c>, so a page notices a dead
    /// connection within about twice this, and proxies do not close an idle one. The stream's key is checked again then.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")] public TimeSpan EventHeartbeat { get; set; } = TimeSpan.FromSeconds(10);
}
