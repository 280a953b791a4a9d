using System.Text;
using CsCheck;
using SharpEyes.Gateway.Sip;
using SharpEyes.Gateway.Tests.Fuzz;

namespace SharpEyes.Gateway.Tests.Sip;

/// <summary>MANSCDP bodies as devices send them: keepalives, alarms in GB2312 or UTF-8 (declared right or wrong), catalog responses.</summary>
public sealed class ManscdpTests
{
    private static readonly Encoding Gb2312 = CodePagesEncodingProvider.Instance.GetEncoding("GB2312")!;

    private static string Alarm(string declared) =>
        $"<?xml version=\"1.0\" encoding=\"{declared}\"?>\r\n<Notify>\r\n<CmdType>Alarm</CmdType>\r\n<SN>17430</SN>\r\n" +
        "<DeviceID>34020000001340000001</DeviceID>\r\n<AlarmPriority>1</AlarmPriority>\r\n<AlarmMethod>5</AlarmMethod>\r\n" +
        "<AlarmTime>2026-12-03T09:15:02</AlarmTime>\r\n<AlarmDescription>东门区域入侵</AlarmDescription>\r\n" +
        "<Longitude>114.6107</Longitude>\r\n<Latitude>37.6153</Latitude>\r\n<Info>\r\n<AlarmType>2</AlarmType>\r\n</Info>\r\n</Notify>\r\n";

    public static TheoryData<string, string, string> Bodies => new()
    {
        { "GB2312 declared GB2312", "GB2312", "GB2312" },
        { "UTF-8 declared UTF-8", "UTF-8", "UTF-8" },
        { "GB2312 declared UTF-8", "UTF-8", "GB2312" },
        { "GBK declared GBK", "GBK", "GB2312" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void An_alarm_reads_the_same_whichever_encoding_it_came_in(string kind, string declared, string written)
    {
        var body = (written == "UTF-8" ? Encoding.UTF8 : Gb2312).GetBytes(Alarm(declared));
        Assert.True(Manscdp.TryParse(body, out var alarm, out var error), $"{kind}: {error}");
        Assert.Equal(("Notify", "Alarm", 17430L, "34020000001340000001"), (alarm!.Root, alarm.CmdType, alarm.Sn, alarm.DeviceId));
        Assert.Equal("东门区域入侵", alarm["AlarmDescription"]);
        Assert.Equal(("1", "5", "2", "114.6107"), (alarm["AlarmPriority"], alarm["AlarmMethod"], alarm["Info/AlarmType"], alarm["Longitude"]));
        Assert.Equal(written == "UTF-8" ? "UTF-8" : "GB18030", alarm.Encoding);
    }

    [Fact]
    public void A_catalog_response_gives_its_items_each_with_its_own_fields()
    {
        var body = Gb2312.GetBytes("""
            <?xml version="1.0" encoding="GB2312"?>
            <Response>
            <CmdType>Catalog</CmdType><SN>7</SN><DeviceID>34020000001110000001</DeviceID><SumNum>3</SumNum>
            <DeviceList Num="2">
            <Item><DeviceID>34020000001320000001</DeviceID><Name>前门</Name><ParentID>34020000001110000001</ParentID><Status>ON</Status>
            <Longitude>114.61</Longitude><Latitude>37.61</Latitude><Info><PTZType>1</PTZType></Info></Item>
            <Item><DeviceID>34020000001320000002</DeviceID><Name>后院</Name><Status>OFF</Status></Item>
            </DeviceList>
            </Response>
            """);
        Assert.True(Manscdp.TryParse(body, out var catalog, out var error), error);
        Assert.Equal(("Response", "Catalog", 7L, "3"), (catalog!.Root, catalog.CmdType, catalog.Sn, catalog["SumNum"]));
        Assert.Equal(2, catalog.Items.Count);
        Assert.Equal(("34020000001320000001", "前门", "ON", "1"), (catalog.Items[0]["DeviceID"], catalog.Items[0]["Name"], catalog.Items[0]["Status"], catalog.Items[0]["Info/PTZType"]));
        Assert.Equal(("后院", "OFF", false), (catalog.Items[1]["Name"], catalog.Items[1]["Status"], catalog.Items[1].ContainsKey("Info/PTZType")));
        Assert.Equal("34020000001110000001", catalog.DeviceId); // the response's own, not an item's
    }

    public static TheoryData<string, string> Refused => new()
    {
        { "<Notify><CmdType>Keepalive</CmdType>", "not well-formed XML" },
        { "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Notify><CmdType>&e;</CmdType></Notify>", "not well-formed XML" },
        { "<Notify><SN>1</SN></Notify>", "Notify has no CmdType" },
        { "<Notify><CmdType>Keepalive</CmdType><SN>one</SN></Notify>", "SN 'one' is not a number" },
        { "", "not well-formed XML: Root element is missing" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Bad_bodies_are_refused_with_the_reason_and_no_entity_is_ever_resolved(string body, string reason)
    {
        Assert.False(Manscdp.TryParse(Encoding.UTF8.GetBytes(body), out var document, out var error));
        Assert.Null(document);
        Assert.StartsWith(reason, error, StringComparison.Ordinal);
        Assert.False(Manscdp.TryParse(new byte[Manscdp.MaxBodyBytes + 1], out _, out error));
        Assert.Equal($"body over {Manscdp.MaxBodyBytes} bytes", error);
    }

    [Fact]
    public void The_platforms_queries_and_guard_commands_read_back_as_sent()
    {
        Assert.True(Manscdp.TryParse(Manscdp.Query("Catalog", 42, "34020000001110000001"), out var query, out _));
        Assert.Equal(("Query", "Catalog", 42L, "34020000001110000001", "GB18030"), (query!.Root, query.CmdType, query.Sn, query.DeviceId, query.Encoding));
        Assert.True(Manscdp.TryParse(Manscdp.Guard(43, "34020000001340000001", arm: true), out var guard, out _));
        Assert.Equal(("Control", "DeviceControl", "SetGuard"), (guard!.Root, guard.CmdType, guard["GuardCmd"]));
        Assert.True(Manscdp.TryParse(Manscdp.Guard(44, "34020000001340000001", arm: false), out guard, out _));
        Assert.Equal("ResetGuard", guard!["GuardCmd"]);
    }

    [Fact]
    public void Mutated_bodies_never_throw_and_every_refusal_says_why()
    {
        var bodies = new[] { Gb2312.GetBytes(Alarm("GB2312")), Encoding.UTF8.GetBytes(Alarm("UTF-8")), Manscdp.Query("Catalog", 1, "34020000001110000001") };
        var gen = Gen.Select(Gen.Int[0, bodies.Length - 1], Gen.Int[0, 3], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 6], (which, how, at, noise) =>
        {
            var body = bodies[which];
            var i = at % body.Length;
            return how switch
            {
                0 => [.. body[..i], (byte)(body[i] ^ (1 << (at % 8))), .. body[(i + 1)..]],
                1 => body[..i],
                2 => [.. body[..i], .. noise, .. body[i..]],
                _ => [.. body[..i], .. body[Math.Min(body.Length, i + 1 + (at % 12))..]],
            };
        });
        Fuzzing.Check("MANSCDP parser", gen, 20261203, 3_000, body =>
        {
            if (Manscdp.TryParse(body, out var document, out var error))
            {
                Assert.Null(error);
                Assert.False(string.IsNullOrEmpty(document!.CmdType));
                return "parsed";
            }

            Assert.Null(document);
            Assert.False(string.IsNullOrWhiteSpace(error));
            return "refused";
        }, Fuzzing.Show, _ => "mutated");
    }
}
