using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using Grpc.Core;
using SharpEyes.Gateway.Observability;
using SharpEyes.Geo.Regions;

namespace SharpEyes.Gateway.Geography;

/// <summary>
/// How a GeoJSON import's errors are told to the client. A rejected import is INVALID_ARGUMENT whose message and
/// <c>feature-errors-bin</c> trailer list the first errors (at most Limits:ImportErrorsListed, and at most a few KiB:
/// trailers travel as HTTP/2 headers, and clients give up on a header block above 64 KiB, grpc-js by hanging until its
/// deadline), with the total in the message and in <c>feature-errors-total</c>. The full list is the answer to a
/// validate-only request, in the response body. Each error's code and message are cut to a bounded length everywhere.
/// </summary>
internal static class ImportErrorReport
{
    /// <summary>Characters of a feature's code, and of an error message, kept in any answer (the rest is elided, with its length).</summary>
    public const int CodeChars = 64;

    public const int MessageChars = 256;

    /// <summary>Bytes the status message may take on the wire (grpc-message is percent-encoded: 3 bytes per non-ASCII UTF-8 byte).</summary>
    public const int MessageWireBytes = GrpcStatusText.MaxWireBytes;

    /// <summary>Bytes of the listed errors' JSON in feature-errors-bin (base64 on the wire, so 4/3 of this).</summary>
    public const int TrailerJsonBytes = 12 * 1024;

    /// <summary>Non-ASCII text as UTF-8 (3 bytes a Chinese character) rather than \uXXXX escapes (6).</summary>
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.Create(UnicodeRanges.All) };

    /// <summary>The refusal kind counted when a rejected import's answer lists only some of its errors.</summary>
    public const string TruncatedKind = "import-errors-listed";

    /// <summary>An error with its code and message cut to <see cref="CodeChars"/> and <see cref="MessageChars"/>, control characters escaped.</summary>
    public static FeatureError Bounded(FeatureError e) => e with
    {
        Code = e.Code is null ? null : LogText.Client(e.Code, CodeChars),
        Message = LogText.Client(e.Message, MessageChars),
    };

    public static V1.FeatureError ToProto(FeatureError e) => new()
    {
        FeatureIndex = e.FeatureIndex,
        Code = e.Code ?? "",
        Reason = e.Reason,
        Message = e.Message,
    };

    /// <summary>"10,000 errors in 5,000 features", from each error's feature index (-1, a file-level error, is "in the file").</summary>
    public static string Summary(IReadOnlyList<int> featureIndexes)
    {
        var features = featureIndexes.Where(i => i >= 0).Distinct().Count();
        var where = (features, featureIndexes.Any(i => i < 0)) switch
        {
            (0, _) => "the file",
            (_, false) => Count(features, "feature"),
            _ => Count(features, "feature") + " and the file",
        };
        return $"{Count(featureIndexes.Count, "error")} in {where}";
    }

    /// <summary>
    /// The INVALID_ARGUMENT for a rejected import: the first errors (up to <paramref name="listLimit"/> and the byte
    /// budgets) in the message and the <c>feature-errors-bin</c> trailer, the total in both. <paramref name="listed"/>
    /// is how many were listed.
    /// </summary>
    public static RpcException Rejected(IReadOnlyList<FeatureError> errors, int listLimit, string fullListHint, out int listed)
    {
        var header = "rejected, nothing imported: " + Summary([.. errors.Select(e => e.FeatureIndex)]);
        var tail = $"; validate_only lists every error ({fullListHint})";
        var messageBytes = GrpcStatusText.WireBytes(header) + GrpcStatusText.WireBytes(tail) + 32; // 32: "; the first N: "
        var jsonBytes = 2;
        var shown = new List<FeatureError>(Math.Min(errors.Count, listLimit));
        var texts = new List<string>(shown.Capacity);
        foreach (var error in errors.Take(listLimit))
        {
            var bounded = Bounded(error);
            var text = Describe(bounded);
            var textBytes = GrpcStatusText.WireBytes(text) + 2;
            var json = JsonSerializer.SerializeToUtf8Bytes(bounded, Json).Length + 1;
            if (shown.Count > 0 && (messageBytes + textBytes > MessageWireBytes || jsonBytes + json > TrailerJsonBytes))
            {
                break;
            }

            messageBytes += textBytes;
            jsonBytes += json;
            shown.Add(bounded);
            texts.Add(text);
        }

        listed = shown.Count;
        var message = listed == errors.Count
            ? $"{header}: {string.Join("; ", texts)}"
            : $"{header}; the first {listed}: {string.Join("; ", texts)}{tail}";
        var trailers = new Metadata
        {
            { "feature-errors-total", errors.Count.ToString(CultureInfo.InvariantCulture) },
            { "feature-errors-bin", JsonSerializer.SerializeToUtf8Bytes(shown, Json) },
        };
        return new RpcException(new Status(StatusCode.InvalidArgument, message), trailers);
    }

    /// <summary>"feature 12 (130127100): overlap: ..." or "file: invalid-json: ...".</summary>
    public static string Describe(FeatureError e) =>
        (e.FeatureIndex < 0 ? "file" : $"feature {e.FeatureIndex}{(e.Code is null ? "" : $" ({e.Code})")}") + $": {e.Reason}: {e.Message}";

    private static string Count(int n, string noun) => string.Create(CultureInfo.InvariantCulture, $"{n:N0} {noun}{(n == 1 ? "" : "s")}");
}
