using System.Text;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using SharpEyes.Gateway.Auth;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Docs;

/// <summary>
/// The gRPC API as protoc parsed it, with the comments of the .proto files, and the reference docs/api.md renders from
/// it. protoc writes the descriptor set at build time (src/SharpEyes.Contracts/SharpEyes.Contracts.csproj,
/// <c>--include_source_info</c>); the comments come from its <see cref="SourceCodeInfo"/>: an element's leading
/// comment and the comment after it on its line. Files are taken in name order, each in declaration order. A method's
/// HTTP route of the JSON API is its <c>google.api.http</c> option (docs/http-api.md).
/// </summary>
internal sealed class ApiReference
{
    /// <summary>The descriptor set's name in the test output (copied there by the test project).</summary>
    public const string DescriptorSetFile = "sharpeyes-api.protoset";

    // Field numbers of descriptor.proto, the path elements of SourceCodeInfo.Location.
    private const int FileMessages = 4, FileEnums = 5, FileServices = 6;
    private const int MessageFields = 2, MessageNested = 3, MessageEnums = 4;
    private const int EnumValues = 2, ServiceMethods = 2;

    private readonly List<ProtoFile> _files;
    private readonly Dictionary<string, string> _anchors;

    private ApiReference(List<ProtoFile> files)
    {
        _files = files;
        _anchors = files.SelectMany(f => f.Messages.Select(m => m.FullName).Concat(f.Enums.Select(e => e.FullName)))
            .ToDictionary(type => type, type => Slug(DisplayName(type)), StringComparer.Ordinal);

        // Every heading of the generated part must have its own anchor, or links would land on the wrong one.
        var headings = _anchors.Values
            .Concat(files.SelectMany(f => f.Services.SelectMany(s => s.Methods.Select(m => Slug($"{s.Name}.{m.Name}")).Prepend(Slug(s.Name)))))
            .Concat(["services", "messages", "enums"]);
        var taken = headings.GroupBy(h => h, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (taken.Count > 0)
        {
            throw new InvalidOperationException($"headings of the API reference share an anchor: {string.Join(", ", taken)}");
        }
    }

    public IReadOnlyList<ProtoFile> Files => _files;

    public static ApiReference Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, DescriptorSetFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} is missing: building src/SharpEyes.Contracts writes it (target WriteApiDescriptorSet) and the test project copies it", path);
        }

        // The registry makes the parser read the google.api.http option of each method instead of keeping it as unknown bytes.
        var set = FileDescriptorSet.Parser.WithExtensionRegistry([AnnotationsExtensions.Http]).ParseFrom(File.ReadAllBytes(path));
        return new ApiReference([.. set.File.OrderBy(f => f.Name, StringComparer.Ordinal).Select(ReadFile)]);
    }

    /// <summary>Every documentable element (services, methods, messages, fields, enums, enum values): files by name, each in declaration order.</summary>
    public IEnumerable<Element> Elements()
    {
        foreach (var file in _files)
        {
            foreach (var service in file.Services)
            {
                yield return new Element("service", service.FullName, service.Comment);
                foreach (var method in service.Methods)
                {
                    yield return new Element("method", $"{service.FullName}.{method.Name}", method.Comment);
                }
            }

            foreach (var message in file.Messages)
            {
                yield return new Element("message", message.FullName, message.Comment);
                foreach (var field in message.Fields)
                {
                    yield return new Element("field", $"{message.FullName}.{field.Name}", field.Comment);
                }
            }

            foreach (var protoEnum in file.Enums)
            {
                yield return new Element("enum", protoEnum.FullName, protoEnum.Comment);
                foreach (var value in protoEnum.Values)
                {
                    yield return new Element("enum value", $"{protoEnum.FullName}.{value.Name}", value.Comment);
                }
            }
        }
    }

    /// <summary>How many elements of each kind the reference documents ("service" → 8, ...).</summary>
    public IReadOnlyDictionary<string, int> Counts() =>
        Elements().GroupBy(e => e.Kind).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>The generated part of docs/api.md.</summary>
    public string RenderMarkdown()
    {
        var text = new StringBuilder();
        var counts = Counts();
        text.Append("This reference covers ").Append(counts.GetValueOrDefault("service")).Append(" services with ")
            .Append(counts.GetValueOrDefault("method")).Append(" methods, ").Append(counts.GetValueOrDefault("message"))
            .Append(" messages with ").Append(counts.GetValueOrDefault("field")).Append(" fields, and ")
            .Append(counts.GetValueOrDefault("enum")).Append(" enums with ").Append(counts.GetValueOrDefault("enum value"))
            .AppendLine(" values.").AppendLine();
        RenderContents(text);
        text.AppendLine("## Services").AppendLine();
        foreach (var service in _files.SelectMany(f => f.Services.Select(s => (File: f, Service: s))))
        {
            RenderService(text, service.File, service.Service);
        }

        text.AppendLine("## Messages").AppendLine();
        foreach (var message in _files.SelectMany(f => f.Messages.Select(m => (File: f, Message: m))))
        {
            RenderMessage(text, message.File, message.Message);
        }

        text.AppendLine("## Enums").AppendLine();
        foreach (var protoEnum in _files.SelectMany(f => f.Enums.Select(e => (File: f, Enum: e))))
        {
            RenderEnum(text, protoEnum.File, protoEnum.Enum);
        }

        return text.ToString();
    }

    /// <summary>The routes table of docs/http-api.md: every method with a google.api.http route, in the reference's order.</summary>
    public string RenderHttpRoutes()
    {
        var text = new StringBuilder();
        text.AppendLine("| route | gRPC method | who may call it | the request's fields |").AppendLine("|---|---|---|---|");
        foreach (var service in _files.SelectMany(f => f.Services))
        {
            foreach (var method in service.Methods.Where(m => m.Http is not null))
            {
                text.Append("| `").Append(method.Http!.Verb).Append(' ').Append(method.Http.Path).Append("` | [")
                    .Append(service.Name).Append('.').Append(method.Name).Append("](api.md#").Append(Slug($"{service.Name}.{method.Name}")).Append(") | ")
                    .Append(Roles(service, method)).Append(" | ").Append(method.Http.Carries).AppendLine(" |");
            }
        }

        return text.ToString();
    }

    private void RenderContents(StringBuilder text)
    {
        text.AppendLine("| file | services | messages | enums |").AppendLine("|---|---|---|---|");
        foreach (var file in _files)
        {
            text.Append("| [").Append(Path.GetFileName(file.Name)).Append("](../protos/").Append(file.Name).Append(") | ")
                .Append(string.Join(", ", file.Services.Select(s => $"[{s.Name}](#{Slug(s.Name)})"))).Append(" | ")
                .Append(string.Join(", ", file.Messages.Select(m => TypeLink(m.FullName)))).Append(" | ")
                .Append(string.Join(", ", file.Enums.Select(e => TypeLink(e.FullName)))).AppendLine(" |");
        }

        text.AppendLine();
    }

    private void RenderService(StringBuilder text, ProtoFile file, ProtoService service)
    {
        AppendHeading(text, file, service.FullName, service.Comment);
        text.AppendLine("| method | request | response | kind | who may call it | HTTP (JSON API) |").AppendLine("|---|---|---|---|---|---|");
        foreach (var method in service.Methods)
        {
            text.Append("| [").Append(method.Name).Append("](#").Append(Slug($"{service.Name}.{method.Name}")).Append(") | ")
                .Append(TypeLink(method.InputType)).Append(" | ").Append(TypeLink(method.OutputType)).Append(" | ")
                .Append(method.Kind).Append(" | ").Append(Roles(service, method)).Append(" | ")
                .Append(method.Http is { } http ? $"`{http.Verb} {http.Path}`" : "—").AppendLine(" |");
        }

        text.AppendLine();
        foreach (var method in service.Methods)
        {
            text.Append("#### ").Append(service.Name).Append('.').AppendLine(method.Name).AppendLine();
            text.Append("`rpc ").Append(method.Name).Append('(').Append(method.ClientStreaming ? "stream " : "")
                .Append(DisplayName(method.InputType)).Append(") returns (").Append(method.ServerStreaming ? "stream " : "")
                .Append(DisplayName(method.OutputType)).Append(")` · ").Append(method.Kind).AppendLine().AppendLine();
            text.Append("Who may call it: ").Append(Roles(service, method));
            var rule = AccessTable.Find($"/{service.FullName}/{method.Name}");
            if (rule is not null && rule.Allows(Role.Vendor) && rule.VendorScope.Length > 0)
            {
                text.Append("; a vendor key: ").Append(Escape(rule.VendorScope));
            }

            if (rule?.Limit == RequestLimit.Import)
            {
                text.Append("; requests up to Limits:GrpcMaxImportBytes");
            }

            text.AppendLine(".").AppendLine();
            if (method.Http is { } route)
            {
                text.Append("HTTP: `").Append(route.Verb).Append(' ').Append(route.Path).Append("`, ").Append(route.Carries)
                    .AppendLine(" ([JSON API](http-api.md)).").AppendLine();
            }

            AppendBlock(text, method.Comment);
        }
    }

    private void RenderMessage(StringBuilder text, ProtoFile file, ProtoMessage message)
    {
        AppendHeading(text, file, message.FullName, message.Comment);
        if (message.Fields.Count > 0)
        {
            text.AppendLine("| field | number | type | label | description |").AppendLine("|---|---|---|---|---|");
            foreach (var field in message.Fields)
            {
                text.Append("| `").Append(field.Name).Append("` | ").Append(field.Number).Append(" | ").Append(FieldType(field))
                    .Append(" | ").Append(field.Label).Append(" | ").Append(Cell(field.Comment)).AppendLine(" |");
            }

            text.AppendLine();
        }
        else
        {
            text.AppendLine("No fields.").AppendLine();
        }

        if (message.Reserved.Length > 0)
        {
            text.Append("Reserved (never to be reused): ").Append(message.Reserved).AppendLine(".").AppendLine();
        }
    }

    private static void RenderEnum(StringBuilder text, ProtoFile file, ProtoEnum protoEnum)
    {
        AppendHeading(text, file, protoEnum.FullName, protoEnum.Comment);
        text.AppendLine("| value | number | description |").AppendLine("|---|---|---|");
        foreach (var value in protoEnum.Values)
        {
            text.Append("| `").Append(value.Name).Append("` | ").Append(value.Number).Append(" | ").Append(Cell(value.Comment)).AppendLine(" |");
        }

        text.AppendLine();
    }

    /// <summary>A service's, message's or enum's heading, its full name with a link to its file, and its comment.</summary>
    private static void AppendHeading(StringBuilder text, ProtoFile file, string fullName, string comment)
    {
        text.Append("### ").AppendLine(DisplayName(fullName)).AppendLine();
        text.Append('`').Append(fullName).Append("` in [").Append(Path.GetFileName(file.Name)).Append("](../protos/")
            .Append(file.Name).AppendLine(")").AppendLine();
        AppendBlock(text, comment);
    }

    /// <summary>The roles <see cref="AccessTable"/> allows on a method, or why it has none.</summary>
    private static string Roles(ProtoService service, ProtoMethod method)
    {
        var rule = AccessTable.Find($"/{service.FullName}/{method.Name}");
        if (rule is null)
        {
            return "not served by the gateway (see the service's description)";
        }

        return rule.Anonymous ? "anyone, without a key" : string.Join(", ", rule.Roles.Select(r => r.ToString().ToLowerInvariant()));
    }

    private string FieldType(ProtoField field)
    {
        if (field.MapKey is not null)
        {
            return field.MapValue!.TypeName.Length == 0
                ? $"`map<{field.MapKey.Scalar}, {field.MapValue.Scalar}>`"
                : $"map&lt;`{field.MapKey.Scalar}`, {TypeName(field.MapValue)}&gt;";
        }

        return TypeName(field.Type);
    }

    private string TypeName(FieldRef type) => type.TypeName.Length > 0 ? TypeLink(type.TypeName) : $"`{type.Scalar}`";

    /// <summary>A message or enum of this API as a link to its heading; any other type (google.protobuf.*) as code.</summary>
    private string TypeLink(string fullName) =>
        _anchors.TryGetValue(fullName, out var anchor) ? $"[{DisplayName(fullName)}](#{anchor})" : $"`{fullName}`";

    /// <summary>The name as written in this package: "Device", "GetStatsResponse.Entry"; other packages keep theirs.</summary>
    private static string DisplayName(string fullName) =>
        fullName.StartsWith("sharpeyes.v1.", StringComparison.Ordinal) ? fullName["sharpeyes.v1.".Length..] : fullName;

    /// <summary>GitHub's heading anchor: lower case, spaces to '-', punctuation other than '-' and '_' dropped.</summary>
    public static string Slug(string heading)
    {
        var slug = new StringBuilder();
        foreach (var c in heading.Trim().ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_')
            {
                slug.Append(c);
            }
            else if (c == ' ')
            {
                slug.Append('-');
            }
        }

        return slug.ToString();
    }

    /// <summary>A comment as Markdown paragraphs (its line breaks and blank lines kept).</summary>
    private static void AppendBlock(StringBuilder text, string comment)
    {
        if (comment.Length == 0)
        {
            return;
        }

        foreach (var line in comment.Split('\n'))
        {
            text.AppendLine(Escape(line));
        }

        text.AppendLine();
    }

    /// <summary>A comment in one table cell: lines joined, paragraphs separated by a line break.</summary>
    private static string Cell(string comment)
    {
        var paragraphs = comment.Split("\n\n").Select(p => string.Join(' ', p.Split('\n').Select(l => l.Trim())));
        return string.Join("<br><br>", paragraphs.Select(p => Escape(p).Replace("|", "\\|", StringComparison.Ordinal)));
    }

    /// <summary>Escapes what Markdown would take as HTML or emphasis, outside `code` spans.</summary>
    private static string Escape(string text)
    {
        var result = new StringBuilder();
        var inCode = false;
        foreach (var c in text)
        {
            if (c == '`')
            {
                inCode = !inCode;
                result.Append(c);
            }
            else if (inCode)
            {
                result.Append(c);
            }
            else
            {
                result.Append(c switch
                {
                    '<' => "&lt;",
                    '>' => "&gt;",
                    '*' => "\\*",
                    _ => c.ToString(),
                });
            }
        }

        return result.ToString();
    }

    private static ProtoFile ReadFile(FileDescriptorProto file)
    {
        var comments = file.SourceCodeInfo?.Location.ToDictionary(l => string.Join(',', l.Path), CommentOf) ?? [];
        string Comment(params int[] path) => comments.GetValueOrDefault(string.Join(',', path), "");
        var prefix = file.Package.Length > 0 ? file.Package + "." : "";

        var services = file.Service.Select((s, i) => new ProtoService(
            prefix + s.Name,
            s.Name,
            Comment(FileServices, i),
            [.. s.Method.Select((m, j) => new ProtoMethod(m.Name, m.InputType.TrimStart('.'), m.OutputType.TrimStart('.'), m.ClientStreaming, m.ServerStreaming, Comment(FileServices, i, ServiceMethods, j), RouteOf(m)))])).ToList();

        var messages = new List<ProtoMessage>();
        var enums = new List<ProtoEnum>();
        for (var i = 0; i < file.MessageType.Count; i++)
        {
            ReadMessage(file.MessageType[i], prefix, [FileMessages, i], Comment, messages, enums);
        }

        for (var i = 0; i < file.EnumType.Count; i++)
        {
            enums.Add(ReadEnum(file.EnumType[i], prefix, [FileEnums, i], Comment));
        }

        return new ProtoFile(file.Name, services, messages, enums);
    }

    private static void ReadMessage(DescriptorProto message, string prefix, int[] path, Func<int[], string> comment, List<ProtoMessage> messages, List<ProtoEnum> enums)
    {
        var fullName = prefix + message.Name;
        var mapEntries = message.NestedType.Where(n => n.Options?.MapEntry == true).ToDictionary(n => $".{fullName}.{n.Name}");
        var fields = new List<ProtoField>();
        for (var i = 0; i < message.Field.Count; i++)
        {
            var field = message.Field[i];
            var fieldComment = comment([.. path, MessageFields, i]);
            if (field.Type == FieldDescriptorProto.Types.Type.Message && mapEntries.TryGetValue(field.TypeName, out var entry))
            {
                fields.Add(new ProtoField(field.Name, field.Number, Ref(entry.Field[0]), "map", fieldComment, Ref(entry.Field[0]), Ref(entry.Field[1])));
                continue;
            }

            var label = field.Proto3Optional ? "optional"
                : field.Label == FieldDescriptorProto.Types.Label.Repeated ? "repeated"
                : field.HasOneofIndex ? $"oneof {message.OneofDecl[field.OneofIndex].Name}"
                : "";
            fields.Add(new ProtoField(field.Name, field.Number, Ref(field), label, fieldComment, null, null));
        }

        var reserved = message.ReservedRange.Select(r => r.End - r.Start == 1 ? $"{r.Start}" : $"{r.Start}–{r.End - 1}")
            .Concat(message.ReservedName.Select(n => $"`{n}`"));
        messages.Add(new ProtoMessage(fullName, comment(path), fields, string.Join(", ", reserved)));

        for (var i = 0; i < message.NestedType.Count; i++)
        {
            if (message.NestedType[i].Options?.MapEntry != true)
            {
                ReadMessage(message.NestedType[i], fullName + ".", [.. path, MessageNested, i], comment, messages, enums);
            }
        }

        for (var i = 0; i < message.EnumType.Count; i++)
        {
            enums.Add(ReadEnum(message.EnumType[i], fullName + ".", [.. path, MessageEnums, i], comment));
        }
    }

    private static ProtoEnum ReadEnum(EnumDescriptorProto protoEnum, string prefix, int[] path, Func<int[], string> comment) =>
        new(prefix + protoEnum.Name, comment(path), [.. protoEnum.Value.Select((v, i) => new ProtoEnumValue(v.Name, v.Number, comment([.. path, EnumValues, i])))]);

    private static FieldRef Ref(FieldDescriptorProto field) =>
        field.Type is FieldDescriptorProto.Types.Type.Message or FieldDescriptorProto.Types.Type.Enum
            ? new FieldRef("", field.TypeName.TrimStart('.'))
            : new FieldRef(field.Type.ToString().ToLowerInvariant(), "");

    /// <summary>
    /// The leading comment and the trailing one (the comment after the element on its line), either of which may be
    /// missing, without the space after each "//" and without blank ends.
    /// </summary>
    private static string CommentOf(SourceCodeInfo.Types.Location location) =>
        string.Join('\n', new[] { location.LeadingComments, location.TrailingComments }.Select(Clean).Where(c => c.Length > 0));

    private static string Clean(string comment)
    {
        var lines = comment.Replace("\r", "", StringComparison.Ordinal).Split('\n')
            .Select(l => (l.StartsWith(' ') ? l[1..] : l).TrimEnd());
        return string.Join('\n', lines).Trim('\n');
    }

    public sealed record Element(string Kind, string FullName, string Comment);

    public sealed record ProtoFile(string Name, List<ProtoService> Services, List<ProtoMessage> Messages, List<ProtoEnum> Enums);

    public sealed record ProtoService(string FullName, string Name, string Comment, List<ProtoMethod> Methods);

    /// <summary>The HTTP route of a method's <c>google.api.http</c> option, or null when it has none (additional bindings are not used).</summary>
    private static HttpRoute? RouteOf(MethodDescriptorProto method)
    {
        if (method.Options?.GetExtension(AnnotationsExtensions.Http) is not { } rule)
        {
            return null;
        }

        var (verb, path) = rule.PatternCase switch
        {
            HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
            HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
            HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
            HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
            HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
            HttpRule.PatternOneofCase.Custom => (rule.Custom.Kind, rule.Custom.Path),
            _ => throw new InvalidOperationException($"{method.Name}: google.api.http without a pattern"),
        };
        return new HttpRoute(verb, path, rule.Body);
    }

    /// <summary>A JSON API route: the HTTP verb, the path template (<c>{field}</c> from the request) and the body field ("*" = the whole request).</summary>
    public sealed record HttpRoute(string Verb, string Path, string Body)
    {
        /// <summary>Where the request's fields go, in words.</summary>
        public string Carries
        {
            get
            {
                var fromPath = Path.Contains('{', StringComparison.Ordinal);
                return Body switch
                {
                    "*" => fromPath ? "the request as the JSON body, the path's fields from the path" : "the request as the JSON body",
                    "" when Verb is "GET" or "DELETE" => fromPath ? "the path's fields from the path, any other as a query parameter" : "the request's fields as query parameters",
                    "" => fromPath ? "no body, the path's fields from the path" : "no body",
                    _ => $"the request's `{Body}` as the JSON body",
                };
            }
        }
    }

    public sealed record ProtoMethod(string Name, string InputType, string OutputType, bool ClientStreaming, bool ServerStreaming, string Comment, HttpRoute? Http)
    {
        public string Kind => (ClientStreaming, ServerStreaming) switch
        {
            (false, false) => "unary",
            (false, true) => "server streaming",
            (true, false) => "client streaming",
            (true, true) => "bidirectional streaming",
        };
    }

    public sealed record ProtoMessage(string FullName, string Comment, List<ProtoField> Fields, string Reserved);

    /// <summary>A field; for a map, <see cref="MapKey"/> and <see cref="MapValue"/> are set and <see cref="Type"/> is the key.</summary>
    public sealed record ProtoField(string Name, int Number, FieldRef Type, string Label, string Comment, FieldRef? MapKey, FieldRef? MapValue);

    /// <summary>A field's type: a scalar ("int32") or a message or enum by full name.</summary>
    public sealed record FieldRef(string Scalar, string TypeName);

    public sealed record ProtoEnum(string FullName, string Comment, List<ProtoEnumValue> Values);

    public sealed record ProtoEnumValue(string Name, int Number, string Comment);
}
