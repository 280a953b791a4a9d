using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using SharpEyes.V1;

namespace SharpEyes.CentreSink;

/// <summary>
/// Knobs a test turns on a running sink to play a slow or failing centre. Read on every call, so a change applies
/// to the next call.
/// </summary>
public sealed class SinkBehaviour
{
    private long _delayTicks;
    private int _failCalls;

    /// <summary>How long each call waits before it is handled (zero: no wait).</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            Interlocked.Exchange(ref _delayTicks, value.Ticks);
        }
    }

    /// <summary>How many of the next calls fail with UNAVAILABLE before anything is stored.</summary>
    public int FailCalls
    {
        get => Volatile.Read(ref _failCalls);
        set => Volatile.Write(ref _failCalls, value);
    }

    /// <summary>Takes one injected failure if any is left.</summary>
    internal bool TryTakeFailure()
    {
        while (true)
        {
            var left = Volatile.Read(ref _failCalls);
            if (left <= 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _failCalls, left - 1, left) == left)
            {
                return true;
            }
        }
    }
}

/// <summary>
/// The gRPC face of the reference centre: checks the caller's key and the request, plays the configured
/// <see cref="SinkBehaviour"/>, and hands the batch to <see cref="SinkStore"/>, which stores it before the answer.
/// </summary>
public sealed partial class ReferenceCentreSink : V1.CentreSink.CentreSinkBase
{
    private const string BearerPrefix = "Bearer ";
    private readonly SinkStore _store;
    private readonly SinkBehaviour _behaviour;
    private readonly byte[]? _apiKey;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ReferenceCentreSink> _logger;

    public ReferenceCentreSink(SinkStore store, SinkBehaviour behaviour, CentreSinkOptions options, TimeProvider time,
        IHostApplicationLifetime lifetime, ILogger<ReferenceCentreSink> logger)
    {
        _store = store;
        _behaviour = behaviour;
        _apiKey = string.IsNullOrEmpty(options.ApiKey) ? null : Encoding.UTF8.GetBytes(options.ApiKey);
        _time = time;
        _lifetime = lifetime;
        _logger = logger;
    }

    public override async Task<DeliverResponse> Deliver(DeliverRequest request, ServerCallContext context)
    {
        CheckApiKey(context);
        var delay = _behaviour.Delay;
        if (delay > TimeSpan.Zero)
        {
            // A stopping server ends its delayed calls at once instead of holding the shutdown for them.
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(
                context.CancellationToken, _lifetime.ApplicationStopping);
            try
            {
                await Task.Delay(delay, _time, cancel.Token);
            }
            catch (OperationCanceledException) when (_lifetime.ApplicationStopping.IsCancellationRequested)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "centre stopping"));
            }
        }

        if (_behaviour.TryTakeFailure())
        {
            LogInjectedFailure(request.SourceId);
            throw new RpcException(new Status(StatusCode.Unavailable, "injected failure"));
        }

        if (string.IsNullOrEmpty(request.SourceId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "source_id: required"));
        }

        var result = _store.Apply(request);
        var count = request.Events.Count;
        var first = count > 0 ? request.Events[0].Sequence : 0;
        var last = count > 0 ? request.Events[count - 1].Sequence : 0;
        if (result.Gap)
        {
            LogGap(request.SourceId, count, first, last, request.AfterSequence, result.Acked);
        }
        else
        {
            if (result.LostFrom > 0)
            {
                LogLost(request.SourceId, result.LostFrom, request.AfterSequence);
            }

            LogBatch(request.SourceId, count, first, last, result.Stored, result.Duplicates, result.Acked);
        }

        return new DeliverResponse { AckedSequence = result.Acked };
    }

    private void CheckApiKey(ServerCallContext context)
    {
        if (_apiKey is null)
        {
            return;
        }

        var header = context.RequestHeaders.GetValue("authorization");
        var matches = header is not null
            && header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[BearerPrefix.Length..].Trim()), _apiKey);
        if (!matches)
        {
            LogUnauthenticated(context.Peer);
            throw new RpcException(new Status(StatusCode.Unauthenticated, "missing or wrong API key"));
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Source {Source}: batch of {Count} events {First}..{Last}: {Stored} stored, {Duplicates} duplicates; acked {Acked}")]
    private partial void LogBatch(string source, int count, long first, long last, int stored, int duplicates, long acked);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Source {Source}: events {From}..{Through} are lost: this centre did not hold them and the source had deleted them (pruned_through); stored what follows")]
    private partial void LogLost(string source, long from, long through);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Source {Source}: batch of {Count} events {First}..{Last} starts after {After} but only up to {Acked} is held: nothing stored, acked there to get the missing range")]
    private partial void LogGap(string source, int count, long first, long last, long after, long acked);

    [LoggerMessage(Level = LogLevel.Information, Message = "Source {Source}: injected failure (UNAVAILABLE)")]
    private partial void LogInjectedFailure(string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Call from {Peer} refused: missing or wrong API key")]
    private partial void LogUnauthenticated(string peer);
}
