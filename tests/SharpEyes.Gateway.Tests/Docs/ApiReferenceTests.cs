using SharpEyes.Gateway.Auth;
using SharpEyes.Gateway.Tests.Interop;

namespace SharpEyes.Gateway.Tests.Docs;

/// <summary>
/// docs/api.md is generated from protos/sharpeyes/v1/*.proto as protoc parsed them (<see cref="ApiReference"/>): every
/// service, method, message, field, enum and enum value must carry a comment, and the committed page must be what the
/// protos and the access table render now.
/// </summary>
public sealed class ApiReferenceTests
{
    private const string Begin = "<!-- api-reference:begin (generated from protos/sharpeyes/v1/*.proto and src/SharpEyes.Gateway/Auth/AccessTable.cs; SHARPEYES_UPDATE_DOCS=1 rewrites it) -->\n";
    private const string End = "<!-- api-reference:end -->";

    [Fact]
    public void Every_service_method_message_field_enum_and_value_has_a_comment()
    {
        var elements = ApiReference.Load().Elements().ToList();
        var missing = elements.Where(e => e.Comment.Length == 0).Select(e => $"{e.Kind} {e.FullName}").ToList();
        Assert.True(
            missing.Count == 0,
            $"{missing.Count} of {elements.Count} elements of protos/sharpeyes/v1 have no comment; write one on the line(s) above each (or after it on its line):\n"
            + string.Join('\n', missing));
    }

    [Fact]
    public void Every_method_the_gateway_serves_is_in_the_reference()
    {
        var methods = ApiReference.Load().Files
            .SelectMany(f => f.Services.SelectMany(s => s.Methods.Select(m => $"/{s.FullName}/{m.Name}")))
            .ToHashSet(StringComparer.Ordinal);
        var served = AccessTable.Rules.Select(r => r.Operation).Where(o => o.StartsWith("/sharpeyes.v1.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(served);
        Assert.All(served, operation => Assert.Contains(operation, methods));
    }

    [Fact]
    public async Task The_api_reference_in_the_docs_is_current()
    {
        var path = Path.Combine(InteropPaths.RepoRoot, "docs", "api.md");
        var text = await File.ReadAllTextAsync(path);
        var from = text.IndexOf(Begin, StringComparison.Ordinal);
        var to = text.IndexOf(End, StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, $"{path} has no api-reference markers");
        var rendered = ApiReference.Load().RenderMarkdown();
        if (Environment.GetEnvironmentVariable("SHARPEYES_UPDATE_DOCS") == "1")
        {
            await File.WriteAllTextAsync(path, text[..(from + Begin.Length)] + rendered + text[to..]);
            return;
        }

        Assert.True(
            rendered == text[(from + Begin.Length)..to],
            $"{path} is not what protos/sharpeyes/v1/*.proto render now (first difference at line {FirstDifferentLine(rendered, text[(from + Begin.Length)..to])} of the generated part); run the test with SHARPEYES_UPDATE_DOCS=1 to rewrite it");
    }

    private static int FirstDifferentLine(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        var line = 0;
        while (line < a.Length && line < b.Length && a[line] == b[line])
        {
            line++;
        }

        return line + 1;
    }
}
