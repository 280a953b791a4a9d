// What the coverage view's browser tests share: the JSON API with a bearer key, a camera to register, the colour
// class a grid's numbers give it (the rule src/regions.ts draws by), a point inside a polygon, pixel counts.

/** A JSON API call with a key (never in the URL); a non-2xx answer throws with the gateway's message. */
export async function api(origin, key, method, path, body) {
  const response = await fetch(origin + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${text}`);
  }
  return text ? JSON.parse(text) : {};
}

/** A 360° camera (GB/T 28181 id of the demo county) at a WGS-84 point seeing rangeM metres around. */
export const cameraRequest = (serial, lon, lat, rangeM) => ({
  deviceId: `13012700001320${String(serial).padStart(6, '0')}`,
  kind: 'DEVICE_KIND_CAMERA',
  name: `覆盖测试 ${serial}`,
  model: 'DS-2CD',
  position: { lon, lat, datum: 'DATUM_WGS84' },
  camera: { azimuthDeg: 0, hfovDeg: 360, rangeM, mountHeightM: 6, resolutionWidth: 1920, resolutionHeight: 1080 },
});

/** The six KPIs the region panel shows. */
export const kpisShown = ['key_site_coverage', 'area_coverage', 'online_rate', 'online_rate_time', 'serviceability', 'hd_rate'];

/** met unless the gateway calls the grid a gap; a gap without a working camera: none; else below or far (under half). */
export function classOf(grid) {
  if (!grid.gap) {
    return 'met';
  }
  if ((grid.camerasWorking ?? 0) === 0) {
    return 'none';
  }
  return (grid.realFraction ?? 0) >= (grid.target ?? 0) / 2 ? 'below' : 'far';
}

const inRing = ([x, y], ring) => {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) {
      inside = !inside;
    }
  }
  return inside;
};

/** A point well inside a (Multi)Polygon: of a 40×40 sample of its box, the inside point farthest from the edges. */
export function interiorPoint(geometry) {
  const polygons = geometry.type === 'MultiPolygon' ? geometry.coordinates : [geometry.coordinates];
  const rings = polygons.flat();
  const all = rings.flat();
  const xs = all.map((c) => c[0]);
  const ys = all.map((c) => c[1]);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const inside = (p) => polygons.some((poly) => inRing(p, poly[0]) && !poly.slice(1).some((hole) => inRing(p, hole)));
  const edgeDistance = (p) => Math.min(...all.map((c) => Math.hypot(c[0] - p[0], c[1] - p[1])));
  let best;
  let bestDistance = -1;
  for (let i = 1; i < 40; i++) {
    for (let j = 1; j < 40; j++) {
      const p = [minX + ((maxX - minX) * i) / 40, minY + ((maxY - minY) * j) / 40];
      if (inside(p)) {
        const d = edgeDistance(p);
        if (d > bestDistance) {
          best = p;
          bestDistance = d;
        }
      }
    }
  }
  if (!best) {
    throw new Error('no point inside the polygon');
  }
  return best;
}

/** In the page: how many canvas pixels have each of the given colours (opaque, within a small tolerance). */
export function pixelCounts(colours) {
  const canvas = document.querySelector('#map canvas');
  const context = canvas?.getContext('2d');
  const counts = Object.fromEntries(Object.keys(colours).map((k) => [k, 0]));
  if (!context) {
    return counts;
  }
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 250) {
      continue;
    }
    for (const [name, [r, g, b]] of Object.entries(colours)) {
      if (Math.abs(data[i] - r) < 6 && Math.abs(data[i + 1] - g) < 6 && Math.abs(data[i + 2] - b) < 6) {
        counts[name]++;
      }
    }
  }
  return counts;
}
