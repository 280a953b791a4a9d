using System.Collections.Concurrent;

namespace SharpEyes.Geo.Regions;

/// <summary>
/// Which cameras see a point: a mutable spatial index of camera sectors, built for many concurrent readers and
/// one writer at a time (writers are serialised by a lock; readers never lock).
/// </summary>
/// <remarks>
/// Cameras are bucketed in a hash of cells of <see cref="CellDegrees"/>° (≈ 555 m north–south, ≈ 440 m east–west at
/// 37° N); a camera is listed in every cell its range circle's bounding box touches, so a query reads one cell.
/// Each cell holds an immutable array replaced on write (copy-on-write per cell), so a reader sees either the old or
/// the new array, never a half-written one. A camera whose range would span more than <see cref="MaxCellsPerCamera"/>
/// cells goes to a small "wide" list checked on every query instead.
/// Geometry is local: offsets from the camera in metres use the WGS-84 meridional and prime-vertical radii at the
/// camera's latitude (error ≈ (d/R)², far below a metre for camera ranges).
/// PTZ cameras count when the point is within range in any direction (potential coverage); fixed cameras when it is
/// inside their sector (range and azimuth ± hfov/2, true north, clockwise). The camera's own position is always seen.
/// </remarks>
public sealed class CameraIndex
{
    public const double CellDegrees = 0.005;
    public const int MaxCellsPerCamera = 256;

    private const double A = 6378137.0;
    private const double E2 = 0.00669437999014;

    private readonly Lock _writeLock = new();
    private readonly ConcurrentDictionary<long, Camera[]> _cells = new();
    private readonly Dictionary<string, Camera> _cameras = new(StringComparer.Ordinal);
    private volatile Camera[] _wide = [];

    /// <summary>
    /// Answers by point, valid while <see cref="_version"/> is unchanged: alarms come from devices that do not move, so
    /// the same points are asked again and again (the scan of a cell was the intake's largest cost with 40,000 cameras
    /// in the demo county). Bounded by <see cref="MaxCachedPoints"/>: emptied when full.
    /// </summary>
    private readonly ConcurrentDictionary<(double Lon, double Lat), (long Version, string[] Ids)> _answers = new();

    /// <summary>Bumped by every write, under the write lock; a cached answer of another version is stale.</summary>
    private long _version;

    /// <summary>Points added to <see cref="_answers"/> since it was last emptied (its Count would take every lock per miss).</summary>
    private int _answerCount;

    /// <summary>Points whose answers are kept (about 100 bytes each plus the ids).</summary>
    public const int MaxCachedPoints = 65_536;

    /// <summary>Number of cameras indexed.</summary>
    public int Count
    {
        get
        {
            lock (_writeLock)
            {
                return _cameras.Count;
            }
        }
    }

    /// <summary>Adds a camera or replaces it (same id). Angles in degrees, azimuth clockwise from true north; range in metres.</summary>
    public void Upsert(string cameraId, double lon, double lat, double azimuthDeg, double hfovDeg, double rangeM, bool ptz)
    {
        ArgumentException.ThrowIfNullOrEmpty(cameraId);
        if (!double.IsFinite(lon) || !double.IsFinite(lat) || lat < -85 || lat > 85)
        {
            throw new ArgumentOutOfRangeException(nameof(lat), "Camera position must be finite lon/lat with |lat| ≤ 85.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(rangeM);
        ArgumentOutOfRangeException.ThrowIfNegative(hfovDeg);
        var camera = new Camera(cameraId, lon, lat, azimuthDeg, hfovDeg, rangeM, ptz);
        lock (_writeLock)
        {
            if (_cameras.Remove(cameraId, out var old))
            {
                RemoveFromCells(old);
            }

            _cameras[cameraId] = camera;
            AddToCells(camera);
            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>Removes a camera; false when it was not indexed.</summary>
    public bool Remove(string cameraId)
    {
        ArgumentNullException.ThrowIfNull(cameraId);
        lock (_writeLock)
        {
            if (!_cameras.Remove(cameraId, out var old))
            {
                return false;
            }

            RemoveFromCells(old);
            Interlocked.Increment(ref _version);
            return true;
        }
    }

    /// <summary>Ids of the cameras that see the WGS-84 point, ordered by id.</summary>
    public IReadOnlyList<string> CamerasSeeing(double lon, double lat)
    {
        // The version is read before the scan: a write during it leaves an answer stamped with the older version,
        // which the next query after the write does not take.
        long version = Interlocked.Read(ref _version);
        if (_answers.TryGetValue((lon, lat), out var cached) && cached.Version == version)
        {
            return cached.Ids;
        }

        var ids = Scan(lon, lat);
        if (!_answers.TryAdd((lon, lat), (version, ids)))
        {
            _answers[(lon, lat)] = (version, ids); // a stale answer replaced
        }
        else if (Interlocked.Increment(ref _answerCount) > MaxCachedPoints)
        {
            Interlocked.Exchange(ref _answerCount, 0);
            _answers.Clear();
        }

        return ids;
    }

    private string[] Scan(double lon, double lat)
    {
        List<string>? result = null;
        if (_cells.TryGetValue(CellKey(CellOf(lon), CellOf(lat)), out var bucket))
        {
            foreach (var camera in bucket)
            {
                if (camera.Sees(lon, lat))
                {
                    (result ??= []).Add(camera.Id);
                }
            }
        }

        foreach (var camera in _wide)
        {
            if (camera.Sees(lon, lat))
            {
                (result ??= []).Add(camera.Id);
            }
        }

        if (result is null)
        {
            return [];
        }

        result.Sort(StringComparer.Ordinal);
        return [.. result];
    }

    private static long CellOf(double degrees) => (long)Math.Floor(degrees / CellDegrees);

    private static long CellKey(long cx, long cy) => (cx << 32) ^ (cy & 0xFFFFFFFFL);

    private void AddToCells(Camera camera)
    {
        var (x0, x1, y0, y1) = camera.CellRange();
        if ((x1 - x0 + 1) * (y1 - y0 + 1) > MaxCellsPerCamera)
        {
            _wide = [.. _wide, camera];
            return;
        }

        for (long x = x0; x <= x1; x++)
        {
            for (long y = y0; y <= y1; y++)
            {
                long key = CellKey(x, y);
                _cells[key] = _cells.TryGetValue(key, out var bucket) ? [.. bucket, camera] : [camera];
            }
        }
    }

    private void RemoveFromCells(Camera camera)
    {
        var (x0, x1, y0, y1) = camera.CellRange();
        if ((x1 - x0 + 1) * (y1 - y0 + 1) > MaxCellsPerCamera)
        {
            _wide = Array.FindAll(_wide, c => !ReferenceEquals(c, camera));
            return;
        }

        for (long x = x0; x <= x1; x++)
        {
            for (long y = y0; y <= y1; y++)
            {
                long key = CellKey(x, y);
                if (!_cells.TryGetValue(key, out var bucket))
                {
                    continue;
                }

                var remaining = Array.FindAll(bucket, c => !ReferenceEquals(c, camera));
                if (remaining.Length == 0)
                {
                    _cells.TryRemove(key, out _);
                }
                else
                {
                    _cells[key] = remaining;
                }
            }
        }
    }

    private sealed class Camera
    {
        private readonly double _metersPerDegLon;
        private readonly double _metersPerDegLat;
        private readonly double _rangeSquared;
        private readonly double _dirX;
        private readonly double _dirY;
        private readonly double _cosHalf;
        private readonly bool _allDirections;

        public Camera(string id, double lon, double lat, double azimuthDeg, double hfovDeg, double rangeM, bool ptz)
        {
            Id = id;
            Lon = lon;
            Lat = lat;
            RangeM = rangeM;
            double phi = lat * Math.PI / 180.0;
            double s = Math.Sin(phi);
            double w = Math.Sqrt(1 - (E2 * s * s));
            double primeVertical = A / w;
            double meridional = A * (1 - E2) / (w * w * w);
            _metersPerDegLon = primeVertical * Math.Cos(phi) * Math.PI / 180.0;
            _metersPerDegLat = meridional * Math.PI / 180.0;
            _rangeSquared = rangeM * rangeM;
            _allDirections = ptz || hfovDeg >= 360.0;
            double az = azimuthDeg * Math.PI / 180.0;
            _dirX = Math.Sin(az);
            _dirY = Math.Cos(az);
            _cosHalf = Math.Cos(Math.Min(hfovDeg, 360.0) / 2.0 * Math.PI / 180.0);
        }

        public string Id { get; }

        public double Lon { get; }

        public double Lat { get; }

        public double RangeM { get; }

        public bool Sees(double lon, double lat)
        {
            double dx = (lon - Lon) * _metersPerDegLon;
            double dy = (lat - Lat) * _metersPerDegLat;
            double d2 = (dx * dx) + (dy * dy);
            if (d2 > _rangeSquared * (1 + 1e-12))
            {
                return false;
            }

            if (_allDirections || d2 == 0)
            {
                return true;
            }

            // Angle to the azimuth ≤ hfov/2  ⇔  cos(angle) ≥ cos(hfov/2), valid for openings up to 360°.
            double dot = (dx * _dirX) + (dy * _dirY);
            return dot >= (Math.Sqrt(d2) * _cosHalf) - 1e-9;
        }

        public (long X0, long X1, long Y0, long Y1) CellRange()
        {
            double dLon = RangeM / _metersPerDegLon;
            double dLat = RangeM / _metersPerDegLat;
            return (CellOf(Lon - dLon), CellOf(Lon + dLon), CellOf(Lat - dLat), CellOf(Lat + dLat));
        }
    }
}
