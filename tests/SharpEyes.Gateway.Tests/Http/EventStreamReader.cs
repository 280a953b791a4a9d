using System.Collections.Concurrent;
using System.Net.Http.Headers;
using SharpEyes.Gateway.Tests.Infrastructure;

namespace SharpEyes.Gateway.Tests.Http;

/// <summary>One dispatched server-sent event: its id field (null when it had none), name and data.</summary>
public sealed record SseMessage(string? Id, string Event, string Data);

/// <summary>
/// Reads <c>GET /api/events</c> in the background as the HTML standard's event-stream parser does (fields, one
/// optional space after the colon, comments, data lines joined, dispatch on an empty line; a message without data is
/// not dispatched) and keeps every message in arrival order.
/// </summary>
public sealed class EventStreamReader : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentQueue<SseMessage> _messages = new();
    private readonly HttpResponseMessage _response;
    private readonly Task _loop;
    private volatile bool _ended;

    private EventStreamReader(HttpResponseMessage response)
    {
        _response = response;
        _loop = Task.Run(ReadAsync);
    }

    public HttpResponseMessage Response => _response;

    /// <summary>Every message so far.</summary>
    public IReadOnlyList<SseMessage> Messages => [.. _messages];

    /// <summary>The feed events so far (messages with an id other than ready, heartbeat and end).</summary>
    public IReadOnlyList<SseMessage> FeedEvents => [.. _messages.Where(m => m.Event.StartsWith("FEED_EVENT_KIND_", StringComparison.Ordinal))];

    /// <summary>The server ended the stream (or the connection broke).</summary>
    public bool Ended => _ended;

    /// <summary>What EventSource would send as Last-Event-ID on reconnecting: the last id field seen.</summary>
    public string? LastEventId { get; private set; }

    /// <summary>Opens the stream; the caller checks <see cref="Response"/>'s status when it expects a refusal (the reader then holds nothing).</summary>
    public static async Task<EventStreamReader> OpenAsync(HttpClient http, string pathAndQuery, string? lastEventId = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return new EventStreamReader(response);
    }

    /// <summary>Reads a stream whose response the caller already has (it started reading late on purpose).</summary>
    public static Task<EventStreamReader> FromResponseAsync(HttpResponseMessage response) => Task.FromResult(new EventStreamReader(response));

    public Task<SseMessage> WaitForAsync(Func<SseMessage, bool> match, string what, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(() => Task.FromResult(_messages.FirstOrDefault(match)), what, timeout);

    public Task WaitForCountAsync(Func<SseMessage, bool> match, int count, string what, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(() => _messages.Count(match) >= count, what, timeout);

    public Task WaitForEndAsync(string what, TimeSpan? timeout = null) => Eventually.TrueAsync(() => _ended, what, timeout);

    private async Task ReadAsync()
    {
        try
        {
            if (!_response.IsSuccessStatusCode)
            {
                return;
            }

            using var reader = new StreamReader(await _response.Content.ReadAsStreamAsync(_cts.Token));
            string? id = null, name = null;
            var data = new List<string>();
            var sawId = false;
            while (await reader.ReadLineAsync(_cts.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Count > 0)
                    {
                        _messages.Enqueue(new SseMessage(sawId ? id : null, name ?? "message", string.Join('\n', data)));
                    }

                    name = null;
                    data.Clear();
                    sawId = false;
                    continue;
                }

                if (line[0] == ':')
                {
                    continue;
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                var field = colon < 0 ? line : line[..colon];
                var value = colon < 0 ? "" : line[(colon + 1)..];
                value = value.StartsWith(' ') ? value[1..] : value;
                switch (field)
                {
                    case "id":
                        id = value;
                        sawId = true;
                        LastEventId = value;
                        break;
                    case "event":
                        name = value;
                        break;
                    case "data":
                        data.Add(value);
                        break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            // Closed by the test, or the connection broke.
        }
        finally
        {
            _ended = true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _response.Dispose();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // Its end is all we wait for.
        }

        _cts.Dispose();
    }
}
