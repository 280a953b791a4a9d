using System.Globalization;
using System.Security;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;

namespace SharpEyes.Gateway.Sip;

/// <summary>
/// A MANSCDP body (GB/T 28181's <c>Application/MANSCDP+xml</c>): its root (Notify, Query, Response, Control), CmdType,
/// SN and DeviceID, every other element's text by path below the root (<c>Info/AlarmType</c>; the first of repeated
/// paths), the items of a <c>DeviceList</c> (a catalog's channels, each by path below its <c>Item</c>), and the encoding
/// its text was decoded from.
/// </summary>
public sealed record ManscdpDocument(
    string Root,
    string CmdType,
    long Sn,
    string DeviceId,
    IReadOnlyDictionary<string, string> Fields,
    IReadOnlyList<IReadOnlyDictionary<string, string>> Items,
    string Encoding)
{
    /// <summary>Field <paramref name="path"/>'s text, or "" when absent.</summary>
    public string this[string path] => Fields.GetValueOrDefault(path, "");
}

/// <summary>
/// Reads and writes MANSCDP bodies. A body is decoded by its XML declaration (GB2312, GBK and GB18030 all as GB18030,
/// their superset; UTF-8), and a body that declares UTF-8 but is not, or declares nothing and is not UTF-8, as GB18030:
/// devices that write GB2312 and declare otherwise are common (a garbled description is one of WVP-GB28181-pro's users'
/// complaints). The XML is read without DTDs or external entities, within a size limit.
/// </summary>
public static partial class Manscdp
{
    /// <summary>The largest body read: a catalog Response of a few hundred items.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private static readonly Encoding Gb18030 = LoadGb18030();

    private static Encoding LoadGb18030()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        return Encoding.GetEncoding("GB18030");
    }

    [GeneratedRegex("""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""", RegexOptions.CultureInvariant)]
    private static partial Regex Declaration();

    /// <summary>The body's text and the encoding it was read as ("UTF-8" or "GB18030").</summary>
    public static (string Text, string Encoding) Decode(byte[] body)
    {
        var head = System.Text.Encoding.Latin1.GetString(body, 0, Math.Min(body.Length, 200));
        var declared = Declaration().Match(head) is { Success: true } m ? m.Groups[1].Value.ToUpperInvariant() : null;
        if (declared is "GB2312" or "GBK" or "GB18030" or "CP936" or "EUC-CN")
        {
            return (Gb18030.GetString(body), "GB18030");
        }

        try
        {
            return (StrictUtf8.GetString(body), "UTF-8");
        }
        catch (DecoderFallbackException)
        {
            return (Gb18030.GetString(body), "GB18030"); // declared UTF-8 (or nothing) but written in GB2312/GBK
        }
    }

    /// <summary>Reads a body; false with the reason when it is not a MANSCDP document this layer understands.</summary>
    public static bool TryParse(byte[] body, out ManscdpDocument? document, out string? error)
    {
        document = null;
        if (body.Length > MaxBodyBytes)
        {
            error = $"body over {MaxBodyBytes} bytes";
            return false;
        }

        var (text, encoding) = Decode(body);
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            IgnoreWhitespace = true,
            MaxCharactersInDocument = MaxBodyBytes,
        };
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var items = new List<IReadOnlyDictionary<string, string>>();
        string? root = null;
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), settings);
            var path = new List<string>();
            Dictionary<string, string>? item = null;
            var itemDepth = -1;
            while (reader.Read())
            {
                switch (reader.NodeType)
                {
                    case XmlNodeType.Element:
                        if (root is null)
                        {
                            root = reader.LocalName;
                            if (reader.IsEmptyElement)
                            {
                                break;
                            }

                            continue;
                        }

                        if (reader.LocalName == "Item" && path is ["DeviceList"] && item is null)
                        {
                            item = new Dictionary<string, string>(StringComparer.Ordinal);
                            itemDepth = path.Count;
                        }
                        else
                        {
                            path.Add(reader.LocalName);
                        }

                        if (reader.IsEmptyElement)
                        {
                            EndElement();
                        }

                        break;
                    case XmlNodeType.Text or XmlNodeType.CDATA:
                        var at = item is null ? path : path.Skip(itemDepth).ToList();
                        var key = string.Join('/', at);
                        (item ?? fields).TryAdd(key, reader.Value.Trim());
                        break;
                    case XmlNodeType.EndElement:
                        EndElement();
                        break;
                }
            }

            void EndElement()
            {
                if (item is not null && path.Count == itemDepth)
                {
                    items.Add(item);
                    item = null;
                }
                else if (path.Count > 0)
                {
                    path.RemoveAt(path.Count - 1);
                }
            }
        }
        catch (XmlException e)
        {
            error = "not well-formed XML: " + e.Message;
            return false;
        }

        root ??= ""; // XmlReader refuses a document without a root element, as not well-formed
        var cmdType = fields.GetValueOrDefault("CmdType", "");
        if (cmdType.Length == 0)
        {
            error = $"{root} has no CmdType";
            return false;
        }

        var sn = fields.GetValueOrDefault("SN", "");
        if (sn.Length > 0 && !long.TryParse(sn, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            error = $"SN '{sn}' is not a number";
            return false;
        }

        document = new ManscdpDocument(root, cmdType, sn.Length == 0 ? 0 : long.Parse(sn, CultureInfo.InvariantCulture),
            fields.GetValueOrDefault("DeviceID", ""), fields, items, encoding);
        error = null;
        return true;
    }

    /// <summary>A platform's query (<c>Catalog</c>, <c>DeviceInfo</c>, <c>DeviceStatus</c>) of device <paramref name="deviceId"/>, as a GB2312-declared body.</summary>
    public static byte[] Query(string cmdType, long sn, string deviceId) =>
        Document("Query", cmdType, sn, deviceId, "");

    /// <summary>Arms (<c>SetGuard</c>) or disarms (<c>ResetGuard</c>) device <paramref name="deviceId"/>'s alarms.</summary>
    public static byte[] Guard(long sn, string deviceId, bool arm) =>
        Document("Control", "DeviceControl", sn, deviceId, $"<GuardCmd>{(arm ? "SetGuard" : "ResetGuard")}</GuardCmd>");

    /// <summary>A platform's keepalive (<c>Notify</c> <c>Keepalive</c>, status OK), as a lower platform sends its upper one.</summary>
    public static byte[] Keepalive(long sn, string deviceId) => Document("Notify", "Keepalive", sn, deviceId, "<Status>OK</Status>\r\n");

    /// <summary>An Alarm notification of <paramref name="deviceId"/> (the alarm's device), as a lower platform forwards it.</summary>
    public static byte[] AlarmNotify(long sn, string deviceId, int priority, int method, DateTimeOffset localTime, string description, double lon, double lat, int type) =>
        Document("Notify", "Alarm", sn, deviceId, string.Create(CultureInfo.InvariantCulture,
            $"<AlarmPriority>{priority}</AlarmPriority>\r\n<AlarmMethod>{method}</AlarmMethod>\r\n<AlarmTime>{localTime:yyyy-MM-dd'T'HH:mm:ss}</AlarmTime>\r\n" +
            $"<AlarmDescription>{SecurityElement.Escape(description)}</AlarmDescription>\r\n<Longitude>{lon:0.000000}</Longitude>\r\n<Latitude>{lat:0.000000}</Latitude>\r\n" +
            $"<Info>\r\n<AlarmType>{type}</AlarmType>\r\n</Info>\r\n"));

    /// <summary>One message of a catalog answer: <paramref name="items"/> of <paramref name="sumNum"/>, each already an <c>&lt;Item&gt;</c> (<see cref="CatalogItem"/>).</summary>
    public static byte[] CatalogResponse(long sn, string deviceId, int sumNum, IReadOnlyList<string> items) =>
        Document("Response", "Catalog", sn, deviceId, string.Create(CultureInfo.InvariantCulture,
            $"<SumNum>{sumNum}</SumNum>\r\n<DeviceList Num=\"{items.Count}\">\r\n{string.Concat(items)}</DeviceList>\r\n"));

    /// <summary>A platform's DeviceInfo answer: its name, maker, model, firmware and the channels it shares.</summary>
    public static byte[] DeviceInfoResponse(long sn, string deviceId, string name, int channels) =>
        Document("Response", "DeviceInfo", sn, deviceId, string.Create(CultureInfo.InvariantCulture,
            $"<Result>OK</Result>\r\n<DeviceName>{SecurityElement.Escape(name)}</DeviceName>\r\n<Manufacturer>SharpEyes</Manufacturer>\r\n<Model>SharpEyes gateway</Model>\r\n" +
            $"<Firmware>{SecurityElement.Escape(typeof(Manscdp).Assembly.GetName().Version?.ToString() ?? "")}</Firmware>\r\n<Channel>{channels}</Channel>\r\n"));

    /// <summary>A platform's DeviceStatus answer: online, working, with the time in the platform's clock.</summary>
    public static byte[] DeviceStatusResponse(long sn, string deviceId, DateTimeOffset localTime) =>
        Document("Response", "DeviceStatus", sn, deviceId, string.Create(CultureInfo.InvariantCulture,
            $"<Result>OK</Result>\r\n<Online>ONLINE</Online>\r\n<Status>OK</Status>\r\n<DeviceTime>{localTime:yyyy-MM-dd'T'HH:mm:ss}</DeviceTime>\r\n"));

    /// <summary>A catalog item: a channel with its name, maker, model, civil code, parent, status, position and PTZ type.</summary>
    public static string CatalogItem(string id, string name, string manufacturer, string model, string civilCode, string parentId, bool on, double lon, double lat, int ptzType) =>
        string.Create(CultureInfo.InvariantCulture,
            $"<Item>\r\n<DeviceID>{SecurityElement.Escape(id)}</DeviceID>\r\n<Name>{SecurityElement.Escape(name)}</Name>\r\n<Manufacturer>{SecurityElement.Escape(manufacturer)}</Manufacturer>\r\n" +
            $"<Model>{SecurityElement.Escape(model)}</Model>\r\n<Owner>{SecurityElement.Escape(civilCode)}</Owner>\r\n<CivilCode>{SecurityElement.Escape(civilCode)}</CivilCode>\r\n" +
            $"<Address></Address>\r\n<Parental>0</Parental>\r\n<ParentID>{SecurityElement.Escape(parentId)}</ParentID>\r\n<SafetyWay>0</SafetyWay>\r\n<RegisterWay>1</RegisterWay>\r\n" +
            $"<Secrecy>0</Secrecy>\r\n<Status>{(on ? "ON" : "OFF")}</Status>\r\n<Longitude>{lon:0.000000}</Longitude>\r\n<Latitude>{lat:0.000000}</Latitude>\r\n" +
            $"<Info>\r\n<PTZType>{ptzType}</PTZType>\r\n</Info>\r\n</Item>\r\n");

    /// <summary>A document with <paramref name="inner"/> (already escaped XML) after its DeviceID, encoded as GB18030 and declared GB2312, as platforms send.</summary>
    private static byte[] Document(string root, string cmdType, long sn, string deviceId, string inner) =>
        Gb18030.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"<?xml version=\"1.0\" encoding=\"GB2312\"?>\r\n<{root}>\r\n<CmdType>{SecurityElement.Escape(cmdType)}</CmdType>\r\n<SN>{sn}</SN>\r\n<DeviceID>{SecurityElement.Escape(deviceId)}</DeviceID>\r\n{inner}</{root}>\r\n"));
}
