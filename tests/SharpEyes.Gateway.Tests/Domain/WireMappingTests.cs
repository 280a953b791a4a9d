using CsCheck;
using Google.Protobuf;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;
using RegionCodes = SharpEyes.Geo.Regions.RegionCodes;

namespace SharpEyes.Gateway.Tests.Domain;

/// <summary>
/// The domain records keep every field through the contract's messages: a record written as the stored encoding
/// (<c>ToWire().ToByteArray()</c>, what the repositories store) and read back (<c>ToDomain()</c>) equals itself, for
/// generated records of every kind (empty and full lists, unset and set times, optional parts present or not). A field
/// added to a record and forgotten in its mapping fails here rather than being lost at the next restart.
/// </summary>
public sealed class WireMappingTests
{
    private static readonly Gen<string> Text = Gen.OneOf(
        Gen.String[Gen.Char.AlphaNumeric, 0, 16],
        Gen.String[Gen.Char['\u4e00', '\u9fa5'], 1, 8],
        Gen.OneOf("", "高邑县第一中学", "rtsp://10.0.0.5:8554/live?channel=1"));

    private static readonly Gen<DateTimeOffset> Time = Gen.Long[new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).Ticks, new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero).Ticks]
        .Select(ticks => new DateTimeOffset(ticks, TimeSpan.Zero));

    private static readonly Gen<DateTimeOffset?> OptionalTime = Gen.Frequency((1, Gen.Const((DateTimeOffset?)null)), (3, Time.Select(t => (DateTimeOffset?)t)));

    private static readonly Gen<double> Number = Gen.OneOf(Gen.Double[-1e7, 1e7], Gen.OneOf(0.0, 1.0, 69.98, 0.001));

    private static readonly Gen<GeoPosition> Position = Gen.Select(Gen.Double[-180, 180], Gen.Double[-90, 90], (lon, lat) => new GeoPosition(lon, lat));

    private static readonly Gen<RegionCodes> Region = Gen.OneOf(
        Gen.Const(RegionCodes.None),
        Gen.String[Gen.Char['0', '9'], 13, 20].Select(RegionCodes.FromFinestCode));

    private static readonly Gen<ValueList<string>> Ids = Gen.String[Gen.Char['0', '9'], 20, 20].Array[0, 4].Select(a => a.ToValueList());

    private static readonly Gen<ValueList<KeySiteNearby>> Sites = Gen.Select(Text, Text, Text, Gen.Int[1, 5], Gen.Double[0, 100],
        (code, name, category, priority, distance) => new KeySiteNearby(code, name, category, priority, Math.Round(distance, 2))).Array[0, 3].Select(a => a.ToValueList());

    private static readonly Gen<AlarmRecord> Alarm = Gen.Select(
        Gen.Select(Text, Text, Gen.String[Gen.Char['0', '9'], 20, 20], Time, Time, (vendor, eventId, device, occurred, received) => (vendor, eventId, device, occurred, received)),
        Gen.Select(Gen.Int[1, 4], Gen.Int[1, 7], Gen.Int[0, 999], Text, (priority, method, type, description) => (priority, method, type, description)),
        Gen.Select(Position, Gen.Bool, Region, Sites, Ids, Text, (position, fromDevice, region, sites, cameras, incident) => (position, fromDevice, region, sites, cameras, incident)),
        (a, b, c) => new AlarmRecord(a.vendor, a.eventId, a.device, a.occurred, a.received, b.priority, b.method, b.type, b.description,
            c.position, c.fromDevice, c.region, c.sites, c.cameras, c.incident));

    private static readonly Gen<Acknowledgement?> Acknowledged = Gen.Frequency(
        (1, Gen.Const((Acknowledgement?)null)),
        (1, Gen.Select(Time, Text, Gen.OneOf(Role.Operator, Role.Admin), Text, (at, key, role, note) => (Acknowledgement?)new Acknowledgement(at, key, role, note))));

    private static readonly Gen<IncidentRecord> Incident = Gen.Select(
        Gen.Select(Text, Gen.OneOf(IncidentState.Open, IncidentState.Closed), Text, Text, Gen.Int[1, 4], Region, Position,
            (id, state, key, typeClass, priority, region, position) => (id, state, key, typeClass, priority, region, position)),
        Gen.Select(Sites, Ids, Gen.Int[1, 100_000], Alarm.Null(), Time, Time, (sites, cameras, count, last, opened, updated) => (sites, cameras, count, last, opened, updated)),
        Gen.Select(OptionalTime, Text, Acknowledged, (closed, reason, ack) => (closed, reason, ack)),
        (a, b, c) => new IncidentRecord(a.id, a.state, a.key, a.typeClass, a.priority, a.region, a.position, b.sites, b.cameras, b.count, b.last,
            b.opened, b.updated, c.closed, c.reason, c.ack));

    private static readonly Gen<CameraView?> Camera = Gen.Select(
        Gen.Select(Gen.Double[0, 359.999], Gen.Double[0.1, 360], Gen.Double[0.1, 5000], Gen.Bool, Gen.Double[0, 500], (azimuth, hfov, range, ptz, height) => (azimuth, hfov, range, ptz, height)),
        Gen.Select(Gen.Double[0.1, 1000], Gen.Double[0.1, 100], Gen.Int[1, 20_000], (focal, sensor, pixels) => new LensSpec(focal, sensor, pixels)).Null(),
        Gen.Select(Gen.Int[0, 16_384], Gen.Int[0, 16_384], Text, (w, h, url) => (w, h, url)),
        Gen.Select(Gen.OneOf(StreamRole.Main, StreamRole.Sub, StreamRole.Third), Gen.OneOf("H.264", "H.265", "MJPEG"), Gen.Int[16, 16_384], Gen.Int[16, 16_384],
            Gen.Double[0.1, 240], Gen.Int[0, 200_000], Text, (role, codec, w, h, fps, kbps, url) => new StreamDeclaration(role, codec, w, h, fps, kbps, url)).Array[0, 3],
        (v, lens, r, streams) => new CameraView(v.azimuth, v.hfov, v.range, lens, v.ptz, v.height, r.w, r.h, r.url, streams.ToValueList()))
        .Null();

    private static readonly Gen<DeviceRecord> Device = Gen.Select(
        Gen.Select(Gen.String[Gen.Char['0', '9'], 20, 20], Gen.OneOf(DeviceKind.Camera, DeviceKind.AlarmDevice), Text, Text, Text,
            (id, kind, name, vendor, model) => (id, kind, name, vendor, model)),
        Gen.Select(Position, Camera, Region, Text, (position, camera, region, code) => (position, camera, region, code)),
        Gen.Select(Gen.Frequency((1, Gen.Const(default(DateTimeOffset))), (4, Time)), Time, Gen.Bool, (registered, updated, credentials) => (registered, updated, credentials)),
        (a, b, c) => new DeviceRecord(a.id, a.kind, a.name, a.vendor, a.model, b.position, b.camera, b.region, b.code, c.registered, c.updated, c.credentials));

    private static readonly Gen<CheckResult> Check = Gen.Select(Time, Gen.Bool, Text, Text, Gen.Int[0, 60_000], (at, ok, failure, detail, ms) => new CheckResult(at, ok, failure, detail, ms));

    private static readonly Gen<StreamHealthRecord> Health = Gen.Select(
        Gen.Select(Gen.String[Gen.Char['0', '9'], 20, 20], Gen.OneOf("black", "frozen", "low-detail", "no-signal").Array[0, 3], OptionalTime,
            (id, faults, since) => (id, faults: faults.Distinct().Order(StringComparer.Ordinal).ToValueList(), since)),
        Gen.Select(Gen.OneOf("H.264", "H.265", ""), Gen.Int[0, 4096], Gen.Int[0, 4096], Number, Gen.Long[0, 100_000_000], Gen.Int[0, 10_000], Time,
            (codec, w, h, fps, bps, ms, at) => new StreamMeasurement(codec, w, h, fps, bps, ms, at)).Null(),
        Gen.Select(Gen.OneOf("codec", "resolution", "frame_rate"), Text, Text, Time, (field, declared, measured, since) => new StreamDifference(field, declared, measured, since)).Array[0, 3],
        Gen.Select(Check.Null(), Check.Null(), Check.Null(), (liveness, probe, grab) => (liveness, probe, grab)),
        Gen.Select(Time, Gen.Bool, Gen.OneOf("black", "frozen", "low-detail").Array[0, 2], Gen.Double[0, 255], Gen.Double[0, 1], Gen.Double[0, 1], Gen.Double[0, 255],
            Gen.Int[1, 10], (at, ok, faults, luma, dark, detail, motion, frames) => new PictureCheck(at, ok, faults.ToValueList(), luma, dark, detail, motion, frames, 900)).Null(),
        Gen.Select(Gen.Int[0, 1000], Gen.Int[0, 1000], (failures, probeFailures) => (failures, probeFailures)),
        (a, measured, mismatches, checks, quality, counters) => new StreamHealthRecord(a.id, a.faults, a.since, measured, mismatches.ToValueList(),
            checks.liveness, checks.probe, checks.grab, quality, counters.failures, counters.probeFailures));

    private static readonly Gen<CoverageGapRecord> Gap = Gen.Select(
        Gen.Select(Text, Gen.OneOf(CoverageGapKind.Grid, CoverageGapKind.KeySite), Text, Text, Text, Gen.Int[0, 5], Text,
            (id, kind, code, name, category, priority, grid) => (id, kind, code, name, category, priority, grid)),
        Gen.Select(Gen.Bool, Gen.Double[0, 1], Gen.Double[0, 1], Gen.Int[0, 500], Gen.Int[0, 500], Gen.Int[0, 10], (open, real, threshold, working, declared, required) => (open, real, threshold, working, declared, required)),
        Gen.Select(Gen.String[Gen.Char['0', '9'], 0, 20], Gen.Enum<CoverageChange>(), (camera, change) => new GapCause(camera, change)).Array[0, 4],
        Gen.Select(OptionalTime, OptionalTime, (opened, closed) => (opened, closed)),
        (a, b, causes, t) => new CoverageGapRecord(a.id, a.kind, a.code, a.name, a.category, a.priority, a.grid, b.open, b.real, b.threshold,
            b.working, b.declared, b.required, causes.ToValueList(), t.opened, t.closed));

    private static T Stored<T>(IMessage<T> wire) where T : IMessage<T>, new() => new MessageParser<T>(() => new T()).ParseFrom(wire.ToByteArray());

    [Fact]
    public void Alarms_round_trip_through_their_stored_encoding() =>
        Alarm.Sample(a => Assert.Equal(a, Stored(a.ToWire()).ToDomain()));

    [Fact]
    public void Incidents_round_trip_through_their_stored_encoding_with_their_newest_alarm() =>
        Incident.Sample(i => Assert.Equal(i, Stored(i.ToWire()).ToDomain()));

    [Fact]
    public void An_incident_answered_with_its_alarms_carries_them_all_oldest_first()
    {
        Gen.Select(Incident, Alarm.Array[0, 5]).Sample((incident, alarms) =>
        {
            var wire = incident.ToWire(alarms);
            Assert.Equal(alarms, wire.Alarms.Select(a => a.ToDomain()));
            Assert.Equal(incident with { LastAlarm = alarms.Length > 0 ? alarms[^1] : null }, wire.ToDomain());
        });
    }

    [Fact]
    public void Devices_round_trip_through_their_stored_encoding() =>
        Device.Sample(d => Assert.Equal(d, Stored(d.ToWire()).ToDomain()));

    [Fact]
    public void Stream_health_round_trips_through_its_stored_encoding() =>
        Health.Sample(h => Assert.Equal(h, Stored(h.ToWire()).ToDomain()));

    [Fact]
    public void Coverage_gaps_round_trip_through_their_stored_encoding() =>
        Gap.Sample(g => Assert.Equal(g, Stored(g.ToWire()).ToDomain()));

    [Fact]
    public void Records_with_equal_lists_are_equal_and_a_changed_item_is_not()
    {
        Alarm.Sample(a =>
        {
            var copy = a with { KeySites = [.. a.KeySites], CameraIds = [.. a.CameraIds] };
            Assert.Equal(a, copy);
            Assert.Equal(a.GetHashCode(), copy.GetHashCode());
            Assert.NotEqual(a, a with { CameraIds = [.. a.CameraIds, "13012700001320009999"] });
        });
    }
}
