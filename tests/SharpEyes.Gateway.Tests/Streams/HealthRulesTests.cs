using Google.Protobuf.WellKnownTypes;
using SharpEyes.Gateway.Devices;
using SharpEyes.Gateway.Domain;
using SharpEyes.Gateway.Streams;
using SharpEyes.Gateway.Wire;
using SharpEyes.V1;

namespace SharpEyes.Gateway.Tests.Streams;

/// <summary>The pure parts of stream health: the picture check, faults, mismatches, HD and the uptime ledger.</summary>
public sealed class HealthRulesTests
{
    private const int W = 64;
    private const int H = 36;
    private static readonly QualityThresholds Thresholds = new(BlackMaxLuma: 24, FrozenMaxMotion: 0.3, LowDetailMaxEdgeShare: 0.005);

    /// <summary>A textured grey frame (a checkerboard of 4-pixel cells) shifted by <paramref name="shift"/> pixels: edges and motion.</summary>
    private static byte[] Scene(int shift, byte dark = 60, byte light = 200)
    {
        var f = new byte[W * H];
        for (var y = 0; y < H; y++)
        {
            for (var x = 0; x < W; x++)
            {
                f[y * W + x] = ((x + shift) / 4 + y / 4) % 2 == 0 ? dark : light;
            }
        }

        return f;
    }

    private static byte[] Flat(byte value) => Enumerable.Repeat(value, W * H).ToArray();

    [Fact]
    public void A_moving_textured_picture_passes()
    {
        var v = FrameQuality.Analyse([Scene(0), Scene(1), Scene(2)], W, H, Thresholds);
        Assert.True(v.Ok, string.Join(",", v.Faults));
        Assert.True(v.Motion > 10 && v.Detail > 0.1, $"motion {v.Motion}, detail {v.Detail}");
    }

    [Fact]
    public void A_black_picture_is_black_only_not_also_frozen_or_low_detail()
    {
        var v = FrameQuality.Analyse([Flat(16), Flat(17), Flat(16)], W, H, Thresholds);
        Assert.Equal([PictureFaults.Black], v.Faults);
        Assert.Equal(1.0, v.DarkFraction);
    }

    [Fact]
    public void Identical_frames_are_frozen_even_with_full_detail()
    {
        var v = FrameQuality.Analyse([Scene(3), Scene(3), Scene(3)], W, H, Thresholds);
        Assert.Equal([PictureFaults.Frozen], v.Faults);
        Assert.Equal(0, v.Motion);
    }

    [Fact]
    public void A_flat_grey_picture_that_changes_brightness_is_low_detail_not_frozen()
    {
        var v = FrameQuality.Analyse([Flat(120), Flat(125), Flat(130)], W, H, Thresholds);
        Assert.Equal([PictureFaults.LowDetail], v.Faults);
        Assert.Equal(5, v.Motion, 3);
    }

    [Fact]
    public void A_gentle_gradient_has_no_edges_so_counts_as_blurred()
    {
        // A blurred picture keeps its gradients (here 0→252 across the frame) but loses every sharp edge.
        var f = new byte[W * H];
        for (var i = 0; i < f.Length; i++)
        {
            f[i] = (byte)(i % W * 4);
        }

        var shifted = f.Select(b => (byte)Math.Min(255, b + 3)).ToArray();
        var v = FrameQuality.Analyse([f, shifted], W, H, Thresholds);
        Assert.Equal([PictureFaults.LowDetail], v.Faults);
    }

    [Fact]
    public void A_frame_of_the_wrong_size_is_refused()
    {
        Assert.Throws<ArgumentException>(() => FrameQuality.Analyse([new byte[10]], W, H, Thresholds));
    }

    [Fact]
    public void No_signal_needs_the_configured_number_of_failures_in_a_row_and_clears_with_one_pass()
    {
        var h = StreamHealthRecord.New("13012700001320000001") with { ConsecutiveFailures = 2 };
        var t0 = new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);
        h = StreamHealthRules.WithFaults(h, 3, t0);
        Assert.Empty(h.Faults);

        h = StreamHealthRules.WithFaults(h with { ConsecutiveFailures = 3 }, 3, t0);
        Assert.Equal([PictureFaults.NoSignal], h.Faults);
        Assert.Equal(t0, h.FaultySince);

        // Failed probes while DESCRIBE answers are a fault of their own; the picture verdict adds its faults.
        h = h with { ConsecutiveFailures = 0, ConsecutiveProbeFailures = 3, LastQuality = Picture(ok: false, PictureFaults.Frozen) };
        h = StreamHealthRules.WithFaults(h, 3, new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero));
        Assert.Equal([PictureFaults.Frozen, PictureFaults.NoSignal], h.Faults);
        Assert.Equal(t0, h.FaultySince);

        h = StreamHealthRules.WithFaults(h with { ConsecutiveProbeFailures = 0, LastQuality = Picture(ok: true) }, 3, t0);
        Assert.Empty(h.Faults);
        Assert.Null(h.FaultySince);
    }

    private static PictureCheck Picture(bool ok, params string[] faults) => new(default, ok, [.. faults], 0, 0, 0, 0, 3, 0);

    private static StreamMeasurement Measured(string codec, int width, int height, double frameRate) => new(codec, width, height, frameRate, 0, 0, default);

    [Fact]
    public void Faults_and_mismatches_that_do_not_change_leave_the_health_as_it_was()
    {
        var t0 = new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);
        var faulty = StreamHealthRules.WithFaults(StreamHealthRecord.New("13012700001320000001") with { ConsecutiveFailures = 3 }, 3, t0);
        Assert.Same(faulty, StreamHealthRules.WithFaults(faulty, 3, t0.AddHours(1))); // still no-signal, since t0
        var device = Camera(new StreamProfile { Role = StreamRole.Main, Codec = "H.264", Width = 1920, Height = 1080, FrameRate = 25 });
        var agreeing = faulty with { Measured = Measured("H.264", 1920, 1080, 25) };
        Assert.Equal(agreeing, StreamHealthRules.WithMismatches(agreeing, device, t0.AddHours(1))); // value-equal: nothing to persist
    }

    private static DeviceRecord Camera(params StreamProfile[] streams)
    {
        var d = new Device { DeviceId = "13012700001320000001", Kind = DeviceKind.Camera, Camera = new CameraSpec { ResolutionWidth = 1920, ResolutionHeight = 1080 } };
        d.Camera.Streams.Add(streams);
        return d.ToDomain();
    }

    [Fact]
    public void Mismatches_name_codec_resolution_and_frame_rate_and_keep_their_first_time()
    {
        var device = Camera(new StreamProfile { Role = StreamRole.Main, Codec = "H.265", Width = 1920, Height = 1080, FrameRate = 25 });
        var h = StreamHealthRecord.New("13012700001320000001") with { Measured = Measured("H.264", 1280, 720, 15) };
        var t1 = new DateTimeOffset(2026, 11, 22, 8, 0, 0, TimeSpan.Zero);
        h = StreamHealthRules.WithMismatches(h, device, t1);
        Assert.Equal(["codec", "resolution", "frame_rate"], h.Mismatches.Select(m => m.Field));
        Assert.Equal(("H.265", "H.264"), (h.Mismatches[0].Declared, h.Mismatches[0].Measured));
        Assert.Equal(("1920x1080", "1280x720"), (h.Mismatches[1].Declared, h.Mismatches[1].Measured));

        var t2 = new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
        h = StreamHealthRules.WithMismatches(h, device, t2);
        Assert.All(h.Mismatches, m => Assert.Equal(t1, m.Since));

        // Within 10 % (at least 1 fps) a frame rate is the declared one: live streams wobble.
        h = StreamHealthRules.WithMismatches(h with { Measured = Measured("H.265", 1920, 1080, 24.2) }, device, t2);
        Assert.Empty(h.Mismatches);
    }

    [Fact]
    public void Hd_follows_the_measured_stream_where_there_is_one()
    {
        var entry = new DeviceEntry(Camera(), null, DeviceStatus.Online, 0);
        Assert.Equal((true, false, true), StreamHealthRules.Hd(entry, 1080));
        entry.Health = StreamHealthRecord.New(entry.Id) with { Measured = Measured("", 1280, 720, 0) };
        Assert.Equal((false, true, true), StreamHealthRules.Hd(entry, 1080));
    }

    [Fact]
    public void The_ledger_measures_online_time_inside_the_window_from_registration()
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
        connection.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = """
                CREATE TABLE status_log(device_id TEXT NOT NULL, at INTEGER NOT NULL, online INTEGER NOT NULL, id INTEGER PRIMARY KEY);
                INSERT INTO status_log(device_id, at, online) VALUES('a', 1000, 1), ('a', 5000, 0), ('a', 8000, 1), ('b', 0, 1), ('old', 10, 1), ('old', 20, 0), ('old', 30, 1);
                """;
            create.ExecuteNonQuery();
        }

        var ledger = new UptimeLedger();
        ledger.Load(connection, retainFromMs: 100);

        // Registered at 0, window 0..10,000: online 1,000-5,000 and 8,000-10,000.
        Assert.Equal((6000L, 10_000L), ledger.Measure("a", 0, 0, 10_000));
        // Registered at 4,000: expected only from then.
        Assert.Equal((3000L, 6000L), ledger.Measure("a", 4000, 0, 10_000));
        // A window that starts while online counts from its start.
        Assert.Equal((1000L, 2000L), ledger.Measure("a", 0, 4000, 6000));
        // Never heard from: expected, never online.
        Assert.Equal((0L, 10_000L), ledger.Measure("c", 0, 0, 10_000));
        // Pruning keeps the last row before the cut-off, so the state at the window's start is still known.
        Assert.Equal((970L, 970L), ledger.Measure("old", 0, 30, 1000));
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM status_log WHERE device_id = 'old'";
        Assert.Equal(1L, (long)count.ExecuteScalar()!);
    }
}
