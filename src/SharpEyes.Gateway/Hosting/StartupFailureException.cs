using SharpEyes.Gateway.Configuration;

namespace SharpEyes.Gateway.Hosting;

/// <summary>
/// A reason the gateway cannot start that the operator can fix (an unwritable data directory, say): the process prints
/// it in one line and exits 2 instead of crashing with a stack trace.
/// </summary>
public sealed class StartupFailureException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The line to print when <paramref name="e"/> or an exception inside it is an operator's problem, else null.</summary>
    public static string? Describe(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is StartupFailureException failure)
            {
                return failure.Message;
            }
        }

        return GatewayConfiguration.InvalidConfiguration(e) is { } why ? "invalid configuration: " + why : null;
    }
}
