using Grpc.Core;
using Grpc.Core.Interceptors;
using SharpEyes.Gateway.Observability;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// Cuts every status message a handler answers to <see cref="GrpcStatusText.MaxWireBytes"/> on the wire. Messages
/// quote what the client sent ("device_id: … is not registered"), and a client that sent megabytes would otherwise get
/// a grpc-message trailer over the 64 KiB clients accept: .NET then fails the whole HTTP/2 connection, every call on
/// it. One bound here covers every message, present and future, instead of one at each place that quotes a field.
/// </summary>
internal sealed class StatusMessageLimit : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (RpcException e) when (Oversized(e))
        {
            throw Bounded(e);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }
        catch (RpcException e) when (Oversized(e))
        {
            throw Bounded(e);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (RpcException e) when (Oversized(e))
        {
            throw Bounded(e);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (RpcException e) when (Oversized(e))
        {
            throw Bounded(e);
        }
    }

    private static bool Oversized(RpcException e) => GrpcStatusText.WireBytes(e.Status.Detail) > GrpcStatusText.MaxWireBytes;

    private static RpcException Bounded(RpcException e) => new(new Status(e.StatusCode, GrpcStatusText.Bounded(e.Status.Detail), e.Status.DebugException), e.Trailers);
}
