using System.Globalization;

namespace SharpEyes.Gateway.Tests.Infrastructure;

/// <summary>
/// One row per fault test: what was injected, how many events, how many arrived, duplicates, time to recover.
/// Rows go to the test's output and are appended to fault-report.md beside the test binaries; scripts/test.sh prints
/// that table at the end of the run, so every CI log shows the figures.
/// </summary>
public static class FaultReport
{
    private static readonly Lock Gate = new();

    public static string FilePath { get; } = Path.Combine(AppContext.BaseDirectory, "fault-report.md");

    /// <param name="test">Short name of the test.</param>
    /// <param name="injected">What was done to the system.</param>
    /// <param name="events">Events (or alarms) that had to arrive.</param>
    /// <param name="arrived">Distinct events that arrived.</param>
    /// <param name="duplicates">Redelivered copies before de-duplication (absorbed by the receiver).</param>
    /// <param name="recovery">From the fault's end to everything delivered.</param>
    public static void Add(string test, string injected, long events, long arrived, long duplicates, TimeSpan recovery, string notes = "")
    {
        var row = string.Create(CultureInfo.InvariantCulture,
            $"| {test} | {injected} | {events} | {arrived} | {duplicates} | {recovery.TotalSeconds:0.00} s | {notes} |");
        lock (Gate)
        {
            if (!File.Exists(FilePath))
            {
                File.WriteAllText(FilePath, "| test | injected | events | arrived | duplicates | time to recover | notes |\n|---|---|---|---|---|---|---|\n");
            }

            File.AppendAllText(FilePath, row + "\n");
        }

        TestContext.Current.SendDiagnosticMessage("fault report: " + row);
        Console.WriteLine("fault report: " + row);
    }
}
