using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SharpEyes.Gateway.Configuration;
using SharpEyes.Gateway.Hosting;

namespace SharpEyes.Gateway.Tests.Docs;

/// <summary>One setting: a property of an options class that is neither a section nor a list of sections.</summary>
internal sealed record ConfigSetting(string Path, PropertyInfo Property, object? Default, string Meaning, string? DefaultText);

/// <summary>One table of docs/configuration.md: the settings of one options class, under <see cref="Path"/>.</summary>
internal sealed record ConfigSection(string Heading, string Path, string Intro, IReadOnlyList<ConfigSetting> Settings, IReadOnlyList<(string Path, string Heading, string Meaning)> Lists);

/// <summary>A rule of <see cref="GatewayOptionsValidator"/> stated in the "allowed" column, with configuration that breaks it.</summary>
internal sealed record ValidatorRule(string Path, string Rule, params (string Key, string Value)[] Violation);

/// <summary>
/// docs/configuration.md from the options classes: the options graph is walked by reflection from a fresh
/// <see cref="GatewayOptions"/> (nested option classes become sections, lists of them a section of their own under
/// <c>:N</c>), meanings come from the XML comments in sharpeyes.xml, allowed values from the data annotations and the
/// validator rules below.
/// </summary>
internal static class ConfigurationReference
{
    public const string Generated = "(generated from the options classes by ConfigurationDocTests; SHARPEYES_UPDATE_DOCS=1 rewrites it)";

    private static readonly Lazy<XDocument> Xml = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "sharpeyes.xml");
        Assert.True(File.Exists(path), $"{path} is missing: SharpEyes.Gateway must build with GenerateDocumentationFile, and the file is copied next to the tests");
        return XDocument.Load(path);
    });

    private const string EndpointUrl = "http://127.0.0.1:7000";

    /// <summary>Rules only <see cref="GatewayOptionsValidator"/> enforces; each is checked to fail with its violation (ConfigurationDocTests).</summary>
    public static readonly IReadOnlyList<ValidatorRule> ValidatorRules =
    [
        new("SharpEyes:GrpcPort", "differs from the other ports (0 excepted)", ("SharpEyes:GrpcPort", "1883")),
        new("SharpEyes:MqttPort", "differs from the other ports (0 excepted)", ("SharpEyes:MqttPort", "8080")),
        new("SharpEyes:HttpPort", "differs from the other ports (0 excepted)", ("SharpEyes:HttpPort", "50051")),
        new("SharpEyes:BindAddress", "an IP address", ("SharpEyes:BindAddress", "localhost")),
        new("SharpEyes:InsecureListeners", "not with Tls:CertificatePath", ("SharpEyes:InsecureListeners", "true"), (TlsCert, "/etc/sharpeyes/server.pem"), (TlsKey, "/etc/sharpeyes/server-key.pem")),
        new("SharpEyes:Tls:KeyPath", "set with CertificatePath", (TlsCert, "/etc/sharpeyes/server.pem")),
        new("SharpEyes:Tls:ClientCaPath", "needs CertificatePath and KeyPath", ("SharpEyes:Tls:ClientCaPath", "/etc/sharpeyes/client-ca.pem")),
        new("SharpEyes:Tls:ClientCertificates:N:Subject", "a distinguished name, each listed once; needs ClientCaPath", (TlsCert, "/s.pem"), (TlsKey, "/k.pem"),
            ("SharpEyes:Tls:ClientCertificates:0:Subject", "CN=acme"), ("SharpEyes:Tls:ClientCertificates:0:Role", "Centre")),
        new("SharpEyes:Tls:ClientCertificates:N:Role", "Vendor, Operator, Planner, Centre or Admin", (TlsCert, "/s.pem"), (TlsKey, "/k.pem"), (TlsCa, "/ca.pem"),
            ("SharpEyes:Tls:ClientCertificates:0:Subject", "CN=acme")),
        new("SharpEyes:Tls:ClientCertificates:N:VendorId", "required with Role Vendor, empty otherwise", (TlsCert, "/s.pem"), (TlsKey, "/k.pem"), (TlsCa, "/ca.pem"),
            ("SharpEyes:Tls:ClientCertificates:0:Subject", "CN=acme"), ("SharpEyes:Tls:ClientCertificates:0:Role", "Vendor")),
        new("SharpEyes:CountyCodes", "6 digits each", ("SharpEyes:CountyCodes:1", "1301")),
        new("SharpEyes:StoreStartTimeout", "≥ 0", ("SharpEyes:StoreStartTimeout", "-00:00:01")),
        new("SharpEyes:Alarms:Retention", "> 0", ("SharpEyes:Alarms:Retention", "00:00:00")),
        new("SharpEyes:Incidents:CorrelationWindow", "> 0", ("SharpEyes:Incidents:CorrelationWindow", "00:00:00")),
        new("SharpEyes:Incidents:QuietPeriod", "> 0", ("SharpEyes:Incidents:QuietPeriod", "00:00:00")),
        new("SharpEyes:Incidents:SweepInterval", "> 0", ("SharpEyes:Incidents:SweepInterval", "00:00:00")),
        new("SharpEyes:Liveness:KeepaliveInterval", "> 0", ("SharpEyes:Liveness:KeepaliveInterval", "00:00:00")),
        new("SharpEyes:Liveness:SweepInterval", "> 0", ("SharpEyes:Liveness:SweepInterval", "00:00:00")),
        new("SharpEyes:Liveness:RestartGrace", "≥ 0", ("SharpEyes:Liveness:RestartGrace", "-00:00:01")),
        new("SharpEyes:Streams:LivenessInterval", "> 0", ("SharpEyes:Streams:LivenessInterval", "00:00:00")),
        new("SharpEyes:Streams:ProbeInterval", "> 0", ("SharpEyes:Streams:ProbeInterval", "00:00:00")),
        new("SharpEyes:Streams:QualityInterval", "> 0", ("SharpEyes:Streams:QualityInterval", "00:00:00")),
        new("SharpEyes:Streams:DescribeTimeout", "> 0", ("SharpEyes:Streams:DescribeTimeout", "00:00:00")),
        new("SharpEyes:Streams:ProcessTimeout", "> 0", ("SharpEyes:Streams:ProcessTimeout", "00:00:00")),
        new("SharpEyes:Streams:AnalyzeDuration", "> 0", ("SharpEyes:Streams:AnalyzeDuration", "00:00:00")),
        new("SharpEyes:Streams:RetryBaseDelay", "> 0", ("SharpEyes:Streams:RetryBaseDelay", "00:00:00")),
        new("SharpEyes:Streams:RetryMaxDelay", "≥ RetryBaseDelay", ("SharpEyes:Streams:RetryMaxDelay", "00:00:01")),
        new("SharpEyes:Streams:HostBreakDuration", "> 0", ("SharpEyes:Streams:HostBreakDuration", "00:00:00")),
        new("SharpEyes:Streams:UptimeRetention", "> 0", ("SharpEyes:Streams:UptimeRetention", "00:00:00")),
        new("SharpEyes:Outbox:FeedRetention", "> 0", ("SharpEyes:Outbox:FeedRetention", "00:00:00")),
        new("SharpEyes:Outbox:PruneInterval", "`00:00:01` – `45.00:00:00`", ("SharpEyes:Outbox:PruneInterval", "46.00:00:00")),
        new("SharpEyes:Outbox:LeaseTtl", "≥ 2 × LeaseRenewInterval + LeaseMargin", ("SharpEyes:Outbox:LeaseTtl", "00:00:07")),
        new("SharpEyes:Outbox:LeaseRenewInterval", "≥ `00:00:00.1`, ≤ (LeaseTtl − LeaseMargin) / 2", ("SharpEyes:Outbox:LeaseRenewInterval", "00:00:00.05")),
        new("SharpEyes:Outbox:LeaseMargin", "≥ `00:00:00.5`", ("SharpEyes:Outbox:LeaseMargin", "00:00:00.1")),
        new("SharpEyes:Outbox:Endpoints:N:Name", "unique", ("SharpEyes:Outbox:Endpoints:0:Url", EndpointUrl), ("SharpEyes:Outbox:Endpoints:1:Url", "http://127.0.0.1:7001")),
        new("SharpEyes:Outbox:Endpoints:N:Url", "Grpc: an absolute `http://` or `https://` URL; Mqtt: `mqtt://` or `mqtts://`", ("SharpEyes:Outbox:Endpoints:0:Url", "ftp://127.0.0.1:7000")),
        new("SharpEyes:Outbox:Endpoints:N:CaPath", "a PEM file holding a certificate; only with an `https://` or `mqtts://` Url",
            ("SharpEyes:Outbox:Endpoints:0:Url", "https://127.0.0.1:7000"), ("SharpEyes:Outbox:Endpoints:0:CaPath", "/dev/null")),
        new("SharpEyes:Outbox:Endpoints:N:ClientCertificatePath", "with ClientKeyPath, a PEM certificate and its key; only with an `https://` or `mqtts://` Url",
            ("SharpEyes:Outbox:Endpoints:0:Url", "https://127.0.0.1:7000"), ("SharpEyes:Outbox:Endpoints:0:ClientCertificatePath", "/dev/null")),
        new("SharpEyes:Outbox:Endpoints:N:ClientKeyPath", "with ClientCertificatePath",
            ("SharpEyes:Outbox:Endpoints:0:Url", "https://127.0.0.1:7000"), ("SharpEyes:Outbox:Endpoints:0:ClientKeyPath", "/dev/null")),
        new("SharpEyes:Outbox:Endpoints:N:Topic", "Mqtt: not empty, no `#` or `+`", ("SharpEyes:Outbox:Endpoints:0:Url", "mqtt://127.0.0.1:1883"), ("SharpEyes:Outbox:Endpoints:0:Topic", "feed/#")),
        new("SharpEyes:Outbox:Endpoints:N:Timeout", "> 0", ("SharpEyes:Outbox:Endpoints:0:Url", EndpointUrl), ("SharpEyes:Outbox:Endpoints:0:Timeout", "00:00:00")),
        new("SharpEyes:Outbox:Endpoints:N:RetryBaseDelay", "> 0", ("SharpEyes:Outbox:Endpoints:0:Url", EndpointUrl), ("SharpEyes:Outbox:Endpoints:0:RetryBaseDelay", "00:00:00")),
        new("SharpEyes:Outbox:Endpoints:N:RetryMaxDelay", "≥ RetryBaseDelay", ("SharpEyes:Outbox:Endpoints:0:Url", EndpointUrl), ("SharpEyes:Outbox:Endpoints:0:RetryMaxDelay", "00:00:00.5")),
        new("SharpEyes:Outbox:Endpoints:N:BreakDuration", "≥ `00:00:00.5`", ("SharpEyes:Outbox:Endpoints:0:Url", EndpointUrl), ("SharpEyes:Outbox:Endpoints:0:BreakDuration", "00:00:00.1")),
        new("SharpEyes:Limits:LogInterval", "> 0", ("SharpEyes:Limits:LogInterval", "00:00:00")),
        new("SharpEyes:Limits:MqttConnectTimeout", "> 0", ("SharpEyes:Limits:MqttConnectTimeout", "00:00:00")),
        new("SharpEyes:Limits:MqttMaxConnectionsPerAddress", "≤ MqttMaxConnections", ("SharpEyes:Limits:MqttMaxConnectionsPerAddress", "10001")),
        new("SharpEyes:Limits:MqttMaxConnectPacketBytes", "≤ MqttMaxPacketBytes", ("SharpEyes:Limits:MqttMaxConnectPacketBytes", "300000")),
        new("SharpEyes:Limits:FailedAuthWindow", "> 0", ("SharpEyes:Limits:FailedAuthWindow", "00:00:00")),
        new("SharpEyes:Coverage:KpiHistoryRetention", "≥ KpiHistoryInterval", ("SharpEyes:Coverage:KpiHistoryInterval", "1.00:00:00"), ("SharpEyes:Coverage:KpiHistoryRetention", "23:00:00")),
        new("SharpEyes:Console:BaseLayer:Url", "empty, or an absolute `http://` or `https://` URL with `{z}`, `{x}`, `{y}` (and `{s}`), no other placeholder, no user name or password",
            (TileUrl, "ftp://tiles.example/{z}/{x}/{y}.png"), (TileDatum, "Wgs84")),
        new("SharpEyes:Console:BaseLayer:Datum", "required with a Url", (TileUrl, "http://tiles.example/{z}/{x}/{y}.png")),
        new("SharpEyes:Console:BaseLayer:MinZoom", "≤ MaxZoom", (TileUrl, "http://tiles.example/{z}/{x}/{y}.png"), (TileDatum, "Wgs84"), ("SharpEyes:Console:BaseLayer:MinZoom", "19")),
        new("SharpEyes:Console:BaseLayer:Subdomains", "required when the Url has `{s}`", (TileUrl, "http://{s}.tiles.example/{z}/{x}/{y}.png"), (TileDatum, "Gcj02")),
    ];

    private const string TlsCert = "SharpEyes:Tls:CertificatePath";
    private const string TlsKey = "SharpEyes:Tls:KeyPath";
    private const string TlsCa = "SharpEyes:Tls:ClientCaPath";
    private const string TileUrl = "SharpEyes:Console:BaseLayer:Url";
    private const string TileDatum = "SharpEyes:Console:BaseLayer:Datum";

    /// <summary>Every table, in the order of the page: the gateway's own settings, then each section depth first.</summary>
    public static IReadOnlyList<ConfigSection> Sections()
    {
        var sections = new List<ConfigSection>();
        Walk(typeof(GatewayOptions), new GatewayOptions(), GatewayOptions.Section, "Gateway",
            $"Settings directly under `{GatewayOptions.Section}`.", sections);
        return sections;
    }

    public static IEnumerable<ConfigSetting> AllSettings() => Sections().SelectMany(s => s.Settings);

    /// <summary>The properties that hold a section or a list of sections, with their comment (the section's introduction).</summary>
    public static IEnumerable<(string Path, PropertyInfo Property, string Meaning)> SectionProperties()
    {
        var found = new List<(string, PropertyInfo, string)>();
        Collect(typeof(GatewayOptions), GatewayOptions.Section);
        return found;

        void Collect(Type type, string path)
        {
            foreach (var p in OptionProperties(type))
            {
                if (IsSection(p.PropertyType))
                {
                    found.Add(($"{path}:{p.Name}", p, Summary(p)));
                    Collect(p.PropertyType, $"{path}:{p.Name}");
                }
                else if (ListElement(p.PropertyType) is { } element)
                {
                    found.Add(($"{path}:{p.Name}", p, Summary(p)));
                    Collect(element, $"{path}:{p.Name}:N");
                }
            }
        }
    }

    /// <summary>The setting a configuration key sets (list indexes as N), or null.</summary>
    public static ConfigSetting? Find(string key)
    {
        var path = Regex.Replace(key, @":\d+(?=:|$)", ":N");
        return AllSettings().FirstOrDefault(s => string.Equals(s.Path, path, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Whether a configuration key sets something: a setting, an entry of a list or map setting, or a section of the
    /// host (Logging). Configuration keys are case-insensitive.
    /// </summary>
    public static bool IsKnownKey(string key)
    {
        if (key.StartsWith("Logging:", StringComparison.OrdinalIgnoreCase) || Find(key) is not null)
        {
            return true;
        }

        var parent = key[..Math.Max(0, key.LastIndexOf(':'))];
        return Find(parent) is { } collection && collection.Property.PropertyType != typeof(string) &&
            typeof(IEnumerable).IsAssignableFrom(collection.Property.PropertyType);
    }

    /// <summary>The value at a configuration key in bound options ("SharpEyes:Outbox:Endpoints:0:Url").</summary>
    public static object? Read(GatewayOptions options, string key)
    {
        object? current = options;
        foreach (var segment in key.Split(':').Skip(1))
        {
            current = current switch
            {
                null => null,
                IList list when int.TryParse(segment, CultureInfo.InvariantCulture, out var i) => i < list.Count ? list[i] : null,
                _ => current.GetType().GetProperty(segment)!.GetValue(current),
            };
        }

        return current;
    }

    /// <summary>Options bound the way the gateway binds them, from the command line, SHARPEYES_* variables and other keys.</summary>
    public static GatewayOptions Bind(string[] args, IReadOnlyDictionary<string, string?>? environment = null, IReadOnlyDictionary<string, string?>? keys = null)
    {
        var builder = new ConfigurationBuilder().AddInMemoryCollection(keys ?? new Dictionary<string, string?>());
        builder.AddGatewaySettings(args, name => environment?.GetValueOrDefault(name));
        return builder.Build().GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
    }

    /// <summary>
    /// What the gateway says of this configuration at start, through its own registration (binding, post-configuration,
    /// data annotations and <see cref="GatewayOptionsValidator"/>): the validation failure, or null when it is valid.
    /// </summary>
    public static OptionsValidationException? Validate(string[] args, IReadOnlyDictionary<string, string?>? environment = null, IReadOnlyDictionary<string, string?>? keys = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Configuration.AddInMemoryCollection(keys ?? new Dictionary<string, string?>());
        builder.Configuration.AddGatewaySettings(args, name => environment?.GetValueOrDefault(name));
        builder.AddSharpEyesGateway(args);
        using var services = builder.Services.BuildServiceProvider();
        try
        {
            _ = services.GetRequiredService<IOptions<GatewayOptions>>().Value;
            return null;
        }
        catch (OptionsValidationException e)
        {
            return e;
        }
    }

    // --- rendering ---

    public static string RenderSwitches()
    {
        var text = new StringBuilder();
        text.Append("| switch | environment variable | setting | default | meaning |\n|---|---|---|---|---|\n");
        foreach (var (option, env, key) in GatewayConfiguration.Settings)
        {
            var setting = Find(key) ?? throw new InvalidOperationException($"{option} sets {key}, which is no setting of the options classes");
            // A switch into a list (--centre-url: endpoint 0) creates the entry: by default there is none.
            var defaultText = Regex.IsMatch(key, @":\d+:") ? "none" : DefaultText(setting);
            text.Append(CultureInfo.InvariantCulture, $"| `{option}` | `{env}` | `{key}` | {defaultText} | {Cell(setting.Meaning)} |\n");
        }

        return text.ToString();
    }

    public static string RenderSection(ConfigSection section)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"### {section.Heading}\n\n{section.Intro}\n\n");
        text.Append("| setting | type | default | allowed | meaning |\n|---|---|---|---|---|\n");
        foreach (var s in section.Settings)
        {
            text.Append(CultureInfo.InvariantCulture, $"| `{s.Path}` | {TypeName(s.Property.PropertyType)} | {DefaultText(s)} | {Cell(Allowed(s))} | {Cell(s.Meaning)} |\n");
        }

        foreach (var (path, heading, meaning) in section.Lists)
        {
            text.Append(CultureInfo.InvariantCulture, $"| `{path}` | list | empty | — | {Cell(meaning)} See [{heading}](#{Slug(heading)}). |\n");
        }

        return text.ToString();
    }

    public static string DefaultText(ConfigSetting s) => s.DefaultText ?? Value(s.Default);

    public static string Slug(string heading) => Regex.Replace(heading.ToLowerInvariant(), @"[^a-z0-9 _-]", "").Replace(' ', '-');

    private static void Walk(Type type, object instance, string path, string heading, string intro, List<ConfigSection> sections)
    {
        var settings = new List<ConfigSetting>();
        var lists = new List<(string, string, string)>();
        var nested = new List<(Type Type, object Instance, string Path, string Heading, string Intro)>();
        foreach (var p in OptionProperties(type))
        {
            var childPath = $"{path}:{p.Name}";
            if (IsSection(p.PropertyType))
            {
                nested.Add((p.PropertyType, p.GetValue(instance)!, childPath, p.Name, $"{Summary(p)} Settings under `{childPath}`."));
            }
            else if (ListElement(p.PropertyType) is { } element)
            {
                var listHeading = $"{heading} {p.Name.ToLowerInvariant()}";
                lists.Add((childPath, listHeading, Summary(p)));
                nested.Add((element, Activator.CreateInstance(element)!, childPath + ":N", listHeading,
                    $"{Summary(p)} Each entry is `{childPath}:N:…`, N = 0, 1, 2…; the defaults are those of each new entry."));
            }
            else
            {
                settings.Add(new ConfigSetting(childPath, p, p.GetValue(instance), Summary(p), Element(p, "value") is { Length: > 0 } v ? v : null));
            }
        }

        sections.Add(new ConfigSection(heading, path, intro, settings, lists));
        foreach (var n in nested)
        {
            Walk(n.Type, n.Instance, n.Path, n.Heading, n.Intro, sections);
        }
    }

    /// <summary>What the configuration binder sets: public properties with a public setter, in declaration order.</summary>
    private static IEnumerable<PropertyInfo> OptionProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }).OrderBy(p => p.MetadataToken);

    private static bool IsSection(Type type) =>
        type.IsClass && type.Namespace == typeof(GatewayOptions).Namespace && !typeof(IEnumerable).IsAssignableFrom(type);

    private static Type? ListElement(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) && IsSection(type.GetGenericArguments()[0]) ? type.GetGenericArguments()[0] : null;

    public static string Summary(PropertyInfo p) => Element(p, "summary");

    private static string Element(PropertyInfo p, string name)
    {
        var id = $"P:{p.DeclaringType!.FullName!.Replace('+', '.')}.{p.Name}";
        var member = Xml.Value.Descendants("member").FirstOrDefault(m => (string?)m.Attribute("name") == id);
        return member?.Element(name) is { } e ? Text(e) : "";
    }

    /// <summary>An XML doc element as one line of Markdown: <c>c</c>, <c>see</c> and <c>paramref</c> as code.</summary>
    private static string Text(XElement element)
    {
        var text = new StringBuilder();
        foreach (var node in element.Nodes())
        {
            text.Append(node switch
            {
                XText t => t.Value,
                XElement { Name.LocalName: "c" } c => $"`{c.Value}`",
                XElement { Name.LocalName: "see" or "seealso" } see when see.Attribute("langword") is { } word => $"`{word.Value}`",
                XElement { Name.LocalName: "see" or "seealso" } see when see.Attribute("cref") is { } cref => $"`{cref.Value[(cref.Value.LastIndexOf('.') + 1)..]}`",
                XElement { Name.LocalName: "paramref" or "typeparamref" } r => $"`{r.Attribute("name")?.Value}`",
                XElement e => Text(e),
                _ => "",
            });
        }

        return Regex.Replace(text.ToString(), @"\s+", " ").Trim();
    }

    private static string TypeName(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } inner)
        {
            return TypeName(inner);
        }

        if (type.IsEnum)
        {
            return "enum";
        }

        if (type.IsArray)
        {
            return "list of " + TypeName(type.GetElementType()!);
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string))
        {
            return "map of " + TypeName(type.GetGenericArguments()[1]);
        }

        return type switch
        {
            _ when type == typeof(bool) => "boolean",
            _ when type == typeof(int) || type == typeof(long) => "integer",
            _ when type == typeof(double) => "number",
            _ when type == typeof(string) => "text",
            _ when type == typeof(TimeSpan) => "time span",
            _ => throw new InvalidOperationException($"docs/configuration.md cannot show a setting of type {type}: teach ConfigurationReference.TypeName and Value"),
        };
    }

    /// <summary>A default as the user would type it: code for values, plain words for none and empty.</summary>
    private static string Value(object? value) => value switch
    {
        null => "none",
        "" => "empty",
        string s => $"`{s}`",
        bool b => b ? "`true`" : "`false`",
        TimeSpan t => $"`{t.ToString("c", CultureInfo.InvariantCulture)}`",
        Enum e => $"`{e}`",
        int or long or double => $"`{Convert.ToString(value, CultureInfo.InvariantCulture)}`",
        IDictionary map when map.Count == 0 => "empty",
        IDictionary map => string.Join(", ", map.Keys.Cast<object>().Select(k => $"`{k}={Convert.ToString(map[k], CultureInfo.InvariantCulture)}`")),
        IEnumerable list when !list.Cast<object>().Any() => "empty",
        IEnumerable list => string.Join(", ", list.Cast<object>().Select(Value)),
        _ => throw new InvalidOperationException($"docs/configuration.md cannot show a default of type {value.GetType()}: teach ConfigurationReference.Value"),
    };

    /// <summary>What the data annotations, the enum and <see cref="ValidatorRules"/> allow.</summary>
    private static string Allowed(ConfigSetting s)
    {
        var parts = new List<string>();
        var p = s.Property;
        var type = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
        if (type.IsEnum)
        {
            parts.Add(string.Join(", ", Enum.GetNames(type).Select(n => $"`{n}`")));
        }

        if (p.GetCustomAttribute<RequiredAttribute>() is not null)
        {
            parts.Add("required");
        }

        if (p.GetCustomAttribute<RangeAttribute>() is { } range)
        {
            parts.Add(RangeText(range));
        }

        if (p.GetCustomAttribute<RegularExpressionAttribute>() is { } regex)
        {
            parts.Add(Regex.Match(regex.Pattern, @"^\^\(([A-Za-z0-9|]+)\)\$$") is { Success: true } choice
                ? string.Join(" or ", choice.Groups[1].Value.Split('|').Select(c => $"`{c}`"))
                : $"matches `{regex.Pattern}`");
        }

        parts.AddRange(ValidatorRules.Where(r => r.Path == s.Path).Select(r => r.Rule));
        return parts.Count == 0 ? "—" : string.Join("; ", parts);
    }

    private static string RangeText(RangeAttribute range)
    {
        static string Bound(object o) => o is string s ? $"`{s}`" : Convert.ToString(o, CultureInfo.InvariantCulture)!;
        var unbounded = range.Maximum is not string && Convert.ToDouble(range.Maximum, CultureInfo.InvariantCulture) >= int.MaxValue;
        return unbounded ? $"≥ {Bound(range.Minimum)}" : $"{Bound(range.Minimum)} – {Bound(range.Maximum)}";
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
