// Writes the synthetic county the console benchmark draws (build/county.json): the real 高邑县 regions from
// demo/gaoyi/grids.wgs84.geojson, and over the same bounding box, as bench/SharpEyes.Bench/Coverage/SyntheticCounty.cs
// builds its county, a jittered 50 x 40 lattice of 2,000 grid polygons, 5,000 key sites (half uniform, half around
// 10 town centres) and 20,000 cameras (half around key sites, half uniform) with a status each. Seeded: every run
// draws the same county.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';

const here = new URL('.', import.meta.url);
const regions = JSON.parse(readFileSync(new URL('../../demo/gaoyi/grids.wgs84.geojson', here), 'utf8'));

let seed = 130127;
const random = () => {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const round = (x) => Math.round(x * 1e7) / 1e7;

const [west, south, east, north] = [114.4628, 37.5525, 114.7201, 37.6962];
const columns = 50, rows = 40;
const dx = (east - west) / columns, dy = (north - south) / rows;
const vertex = [];
for (let i = 0; i <= columns; i++) {
  vertex.push([]);
  for (let j = 0; j <= rows; j++) {
    const edge = i === 0 || j === 0 || i === columns || j === rows;
    vertex[i].push([west + i * dx + (edge ? 0 : (random() - 0.5) * dx * 0.4), south + j * dy + (edge ? 0 : (random() - 0.5) * dy * 0.4)]);
  }
}
const grids = [];
for (let i = 0; i < columns; i++) {
  for (let j = 0; j < rows; j++) {
    const ring = [vertex[i][j], vertex[i + 1][j], vertex[i + 1][j + 1], vertex[i][j + 1], vertex[i][j]].map(([x, y]) => [round(x), round(y)]);
    grids.push({
      type: 'Feature',
      properties: { code: `130127${String(i * rows + j).padStart(6, '0')}`, coverage: Math.round(random() * 100) / 100 },
      geometry: { type: 'Polygon', coordinates: [ring] },
    });
  }
}

const towns = Array.from({ length: 10 }, () => [west + (0.1 + 0.8 * random()) * (east - west), south + (0.1 + 0.8 * random()) * (north - south)]);
const near = ([x, y], spread) => [x + (random() - 0.5) * spread, y + (random() - 0.5) * spread];
const uniform = () => [west + random() * (east - west), south + random() * (north - south)];
const sites = [];
for (let k = 0; k < 5000; k++) {
  const [x, y] = k % 2 === 0 ? uniform() : near(towns[k % towns.length], 0.04);
  sites.push({ type: 'Feature', properties: { id: `KS-${k}`, priority: 1 + (k % 5), covered: random() < 0.7 }, geometry: { type: 'Point', coordinates: [round(x), round(y)] } });
}
const statuses = ['online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'online', 'offline', 'offline', 'faulty', 'unknown'];
const cameras = [];
for (let k = 0; k < 20000; k++) {
  const [x, y] = k % 2 === 0 ? uniform() : near(sites[Math.floor(random() * sites.length)].geometry.coordinates, 0.004);
  cameras.push({
    type: 'Feature',
    properties: { id: `130127${String(200000 + k).padStart(14, '0')}`, status: statuses[Math.floor(random() * statuses.length)] },
    geometry: { type: 'Point', coordinates: [round(x), round(y)] },
  });
}

const county = {
  bbox: [west, south, east, north],
  regions,
  grids: { type: 'FeatureCollection', features: grids },
  sites: { type: 'FeatureCollection', features: sites },
  cameras: { type: 'FeatureCollection', features: cameras },
};
mkdirSync(new URL('build/', here), { recursive: true });
writeFileSync(new URL('build/county.json', here), JSON.stringify(county));
console.log(`build/county.json: ${regions.features.length} regions, ${grids.length} grids, ${sites.length} key sites, ${cameras.length} cameras`);
