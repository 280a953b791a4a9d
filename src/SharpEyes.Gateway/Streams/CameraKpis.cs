using SharpEyes.Gateway.Devices;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Streams;

/// <summary>
/// The camera KPIs of a set of cameras (a grid, village, township or county), each with its formula and the national
/// target beside it (发改高技〔2015〕996号; domain.md). One implementation for the health report and the coverage report.
/// </summary>
public sealed record CameraKpis(
    int Cameras, int Online, int Faulty, int Working, int Probed, int Measured, int Hd, int HdDeclared, int Mismatched,
    long OnlineMs, long ExpectedMs, int HdMinHeight, int WindowHours)
{
    /// <summary>Serviceability (完好率) of key public-area cameras: at least 98 %.</summary>
    public const double ServiceabilityTarget = 0.98;

    /// <summary>New or rebuilt cameras: 100 % HD.</summary>
    public const double HdRateTarget = 1.0;

    public static CameraKpis Of(IReadOnlyCollection<DeviceEntry> cameras, UptimeLedger uptime, int hdMinHeight, DateTimeOffset now, int windowHours)
    {
        int online = 0, faulty = 0, working = 0, probed = 0, measured = 0, hd = 0, hdDeclared = 0, mismatched = 0;
        long onlineMs = 0, expectedMs = 0;
        var to = now.ToUnixTimeMilliseconds();
        var from = (now - TimeSpan.FromHours(windowHours)).ToUnixTimeMilliseconds();
        foreach (var c in cameras)
        {
            var health = c.Health;
            online += c.Status == DeviceStatus.Online ? 1 : 0;
            faulty += health.Faults.Count > 0 ? 1 : 0;
            working += c.Working ? 1 : 0;
            probed += string.IsNullOrEmpty(c.Device.Camera?.RtspUrl) ? 0 : 1;
            var (isHd, wasMeasured, declaredHd) = StreamHealthRules.Hd(c, hdMinHeight);
            measured += wasMeasured ? 1 : 0;
            hd += isHd ? 1 : 0;
            hdDeclared += declaredHd ? 1 : 0;
            mismatched += health.Mismatches.Count > 0 ? 1 : 0;
            var registered = c.Device.RegisteredAt.ToUnixTimeMilliseconds();
            var (on, expected) = uptime.Measure(c.Id, registered, from, to);
            onlineMs += on;
            expectedMs += expected;
        }

        return new CameraKpis(cameras.Count, online, faulty, working, probed, measured, hd, hdDeclared, mismatched, onlineMs, expectedMs, hdMinHeight, windowHours);
    }

    public IEnumerable<Kpi> Kpis()
    {
        yield return Make("online_rate", Online, Cameras, 0, "在线率 by count: cameras online now ÷ cameras registered; no national target");
        yield return Make("online_rate_time", OnlineMs / 1000, ExpectedMs / 1000, 0,
            $"在线率 by time: online seconds ÷ expected seconds over the last {WindowHours} h (a camera is expected from its registration and offline until first heard from); no national target");
        yield return Make("serviceability", Working, Cameras, ServiceabilityTarget,
            "完好率: working cameras (online, no stream fault: no-signal, black, frozen, low-detail) ÷ cameras registered; offline or never heard from counts as not working");
        yield return Make("hd_rate", Hd, Cameras, HdRateTarget,
            $"高清率: cameras with ≥ {HdMinHeight} lines ÷ cameras, by the measured main stream ({Measured} of {Cameras} measured; the others by declared resolution)");
        yield return Make("hd_rate_declared", HdDeclared, Cameras, HdRateTarget,
            $"高清率 as declared: cameras whose declared main stream has ≥ {HdMinHeight} lines ÷ cameras");
    }

    public static Kpi Make(string name, long numerator, long denominator, double target, string definition)
    {
        double value = denominator == 0 ? 1.0 : (double)numerator / denominator;
        return new Kpi
        {
            Name = name,
            Value = Math.Round(value, 6),
            Target = target,
            Met = value >= target - 1e-12,
            Numerator = numerator,
            Denominator = denominator,
            Definition = definition,
        };
    }
}
