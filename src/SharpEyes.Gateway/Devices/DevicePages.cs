using Grpc.Core;

namespace SharpEyes.Gateway.Devices;

/// <summary>
/// Paging over devices ordered by id, shared by every list call: a page size of 1–1,000 (0 = 100) and an opaque token
/// that carries the last id of the previous page.
/// </summary>
public static class DevicePages
{
    public const int MaxPageSize = 1000;

    /// <summary>
    /// ListDevices' MAP view: a device is about 25 bytes of protobuf (250 of JSON), so a page of 5,000 is what a page
    /// of 500 full devices is; a 20,000-camera county is 4 round trips instead of 20.
    /// </summary>
    public const int MaxMapPageSize = 5000;

    public static int Size(int requested, int max = MaxPageSize) => requested switch
    {
        0 => 100,
        < 0 => throw new RpcException(new Status(StatusCode.InvalidArgument, $"page_size: must be in 1-{max}")),
        _ when requested > max => throw new RpcException(new Status(StatusCode.InvalidArgument, $"page_size: must be in 1-{max}")),
        _ => requested,
    };

    public static string Token(string lastId) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(lastId));

    /// <summary>The last id of the previous page ("" for the first page).</summary>
    public static string After(string token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return "";
        }

        try
        {
            return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(token));
        }
        catch (FormatException)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "page_token: not a token this gateway issued"));
        }
    }
}
