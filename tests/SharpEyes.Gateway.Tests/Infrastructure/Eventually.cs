namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>Waits on a condition with a deadline, never on a fixed sleep.</summary>
public static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T?>> probe, string what, TimeSpan? timeout = null)
        where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        var delay = 5;
        while (true)
        {
            var value = await probe();
            if (value is not null)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(delay);
            delay = Math.Min(delay * 2, 100);
        }
    }

    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        await WaitAsync<object>(() => Task.FromResult(condition() ? new object() : null), what, timeout);

    public static async Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null) =>
        await WaitAsync<object>(async () => await condition() ? new object() : null, what, timeout);
}
