using Grpc.Core;

namespace SharpEyes.Gateway.Devices;

/// <summary>A bad request value; becomes INVALID_ARGUMENT with "field: reason".</summary>
public sealed class FieldException(string field, string reason) : Exception($"{field}: {reason}")
{
    public string Field { get; } = field;

    public RpcException ToRpc() => new(new Status(StatusCode.InvalidArgument, Message));
}
