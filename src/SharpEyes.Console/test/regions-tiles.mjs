// The intranet base layer in a real browser: a gateway set with a GCJ-02 tile server (the test's own tiny server on
// 127.0.0.1, TILE_ORIGIN) draws its tiles under the county, requests tiles from that server and from nowhere else, and
// converts every overlay to GCJ-02: the key sites the page drew must be where the gateway's own conversion puts them
// (GET /api/v1/coverage/map?keySites=true&datum=DATUM_GCJ02, an independent oracle) within 0.5 m. Screenshot:
// regions-tiles.png.
// Run by tests/SharpEyes.Gateway.Tests/Console/RegionsPageTests.cs:
//   SHARPEYES_KEY=se_... node test/regions-tiles.mjs http://127.0.0.1:PORT/ OUTPUT_DIR http://127.0.0.1:TILE_PORT
import { join } from 'node:path';
import { args, requireEnv, run } from './harness.mjs';
import { api } from './regions-common.mjs';

const { base, outputDir, rest } = args('SHARPEYES_KEY=se_... node test/regions-tiles.mjs http://127.0.0.1:PORT/ OUTPUT_DIR TILE_ORIGIN');
const tileOrigin = new URL(rest[0]).origin;
const key = requireEnv('SHARPEYES_KEY');
const origin = new URL(base).origin;

/** Metres between two lon/lat points this close (an equirectangular approximation, exact enough under a kilometre). */
const metres = ([x1, y1], [x2, y2]) => {
  const k = Math.PI / 180;
  const dx = (x2 - x1) * k * Math.cos(((y1 + y2) / 2) * k) * 6_378_137;
  const dy = (y2 - y1) * k * 6_378_137;
  return Math.hypot(dx, dy);
};

/** The middle of a geometry's bounding box, as Leaflet's getBounds().getCenter() takes it. */
function boxCentre(geometry) {
  const points = [];
  const walk = (c) => (typeof c[0] === 'number' ? points.push(c) : c.forEach(walk));
  walk(geometry.coordinates);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

await run(base, async ({ newPage, requests }) => {
  const page = await newPage(key);
  await page.waitForFunction(() => Number(document.documentElement.dataset.coverageLoads ?? 0) >= 1, null, { timeout: 10_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('.leaflet-tile')].some((t) => t.complete && t.naturalWidth > 0), null, { timeout: 10_000 });
  const state = await page.evaluate(() => ({
    baseLayer: document.documentElement.dataset.baseLayer,
    drawn: JSON.parse(document.documentElement.dataset.siteSample ?? '{}'),
    tiles: document.querySelectorAll('.leaflet-tile').length,
    attribution: document.querySelector('.leaflet-control-attribution')?.textContent ?? '',
  }));
  if (state.baseLayer !== 'gcj02') {
    throw new Error(`the page's base layer is ${state.baseLayer}, not gcj02`);
  }

  // The gateway's own GCJ-02 positions of the key sites, and its WGS-84 ones to show the conversion moved them.
  const map = async (datum) => JSON.parse((await api(origin, key, 'GET', `/api/v1/coverage/map?keySites=true&datum=${datum}`)).geojson)
    .features.filter((f) => f.properties.layer === 'key-site');
  const gcj = Object.fromEntries((await map('DATUM_GCJ02')).map((f) => [f.properties.code, boxCentre(f.geometry)]));
  const wgs = Object.fromEntries((await map('DATUM_WGS84')).map((f) => [f.properties.code, boxCentre(f.geometry)]));
  const compared = Object.entries(state.drawn).map(([code, at]) => ({ code, errorM: metres(at, gcj[code]), shiftM: metres(wgs[code], gcj[code]) }));
  if (compared.length === 0) {
    throw new Error('the page drew no key sites');
  }
  const worst = compared.reduce((a, b) => (b.errorM > a.errorM ? b : a));
  if (!(worst.errorM <= 0.5)) {
    throw new Error(`key site ${worst.code} is drawn ${worst.errorM.toFixed(3)} m from the gateway's GCJ-02 position`);
  }
  if (compared.some((c) => c.shiftM < 100)) {
    throw new Error('GCJ-02 and WGS-84 positions barely differ: the comparison proves nothing');
  }
  await page.screenshot({ path: join(outputDir, 'regions-tiles.png') });

  const tileRequests = requests.filter((r) => r.startsWith(`${tileOrigin}/`));
  const elsewhere = requests.filter((r) => !r.startsWith(`${origin}/`) && !r.startsWith(`${tileOrigin}/`));
  if (tileRequests.length === 0 || elsewhere.length > 0) {
    throw new Error(`tile requests: ${tileRequests.length} to the tile server, others elsewhere: ${elsewhere}`);
  }
  return {
    baseLayer: state.baseLayer, tiles: state.tiles, tileRequests: tileRequests.length, attribution: state.attribution,
    sites: compared.length, worstErrorM: worst.errorM, minShiftM: Math.min(...compared.map((c) => c.shiftM)),
  };
}, { allowedOrigins: [tileOrigin] });
