// The cameras on the map, in a real browser against a real gateway (run by
// tests/SharpEyes.Gateway.Tests/Console/CamerasPageTests.cs, which registers the cameras through the gRPC API first):
// the page draws each camera with its status (counts per status on <html data-cameras-*>), a heartbeat sent now by
// this script over the JSON API and an offline turn made by the gateway's keepalive sweep change the drawn status
// within 2 s, a click on a camera opens its panel with the grids and key sites GET /api/v1/coverage/cameras/{id}
// answers, the panel follows a live change of its camera, a deregistered camera leaves the map, the PTZ layer
// toggles, English relabels the panel, a planner's panel has no picture. Screenshots at county zoom, at wedge zoom, of the panel and of the PTZ layer.
//   SHARPEYES_KEY=operator key, SHARPEYES_PLANNER_KEY=a planner's, SHARPEYES_VENDOR_KEY=the cameras' vendor key,
//   SHARPEYES_CAMERAS={"ptz":id,...},
//   SHARPEYES_SIGNAL=a file path: written when the script wants the gateway to take camera "second" offline
//   node test/cameras.mjs http://127.0.0.1:PORT/ OUTPUT_DIR
// Prints one JSON line: what it saw. Exit code 1 with the reasons on stderr when a check failed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { args, eventually, requireEnv, run, settled } from './harness.mjs';

const { base, outputDir } = args('SHARPEYES_KEY=... SHARPEYES_VENDOR_KEY=... SHARPEYES_CAMERAS={...} SHARPEYES_SIGNAL=FILE node test/cameras.mjs http://127.0.0.1:PORT/ OUTPUT_DIR');
const key = requireEnv('SHARPEYES_KEY');
const vendorKey = requireEnv('SHARPEYES_VENDOR_KEY');
const cameras = JSON.parse(requireEnv('SHARPEYES_CAMERAS'));
const signal = requireEnv('SHARPEYES_SIGNAL');
const plannerKey = requireEnv('SHARPEYES_PLANNER_KEY');

/** The gateway's JSON API from Node, with a key (as a curl user would call it). */
async function api(method, path, body, withKey = key) {
  const response = await fetch(new URL(path, base), {
    method,
    headers: { Authorization: `Bearer ${withKey}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  }
  return response.json();
}

const counts = (page) => page.evaluate(() => {
  const d = document.documentElement.dataset;
  return { all: Number(d.cameras), online: Number(d.camerasOnline), faulty: Number(d.camerasFaulty), offline: Number(d.camerasOffline), unknown: Number(d.camerasUnknown) };
});

/** Waits in the page until the drawn counts are `want`; answers the milliseconds it took. */
async function waitCounts(page, want, what) {
  const started = Date.now();
  await page.waitForFunction((w) => {
    const d = document.documentElement.dataset;
    return Number(d.cameras) === w.all && Number(d.camerasOnline) === w.online && Number(d.camerasFaulty) === w.faulty
      && Number(d.camerasOffline) === w.offline && Number(d.camerasUnknown) === w.unknown;
  }, want, { timeout: 10_000 }).catch(async () => {
    throw new Error(`${what}: the page drew ${JSON.stringify(await counts(page))}, expected ${JSON.stringify(want)}`);
  });
  return Date.now() - started;
}

/** A camera's pixel on the page now: Web Mercator from the map's view (data-map-view: zoom, centre lat, lng). */
const pixelOf = (page, position) => page.evaluate(({ lon, lat }) => {
  const [z, clat, clng] = document.documentElement.dataset.mapView.split(' ').map(Number);
  const size = 256 * 2 ** z;
  const project = (lng, la) => {
    const r = (la * Math.PI) / 180;
    return [((lng + 180) / 360) * size, ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * size];
  };
  const box = document.getElementById('map').getBoundingClientRect();
  const [ax, ay] = project(lon, lat);
  const [cx, cy] = project(clng, clat);
  return [box.left + box.width / 2 + ax - cx, box.top + box.height / 2 + ay - cy];
}, position);

const viewChange = (page, before) => page.waitForFunction((b) => document.documentElement.dataset.mapView !== b, before, { timeout: 10_000 });

/**
 * Double-clicks 40 px above a camera until the zoom reaches `zoom` (on a camera a double click is the camera's), then
 * drags the map until the camera is in the middle, as a user would.
 */
async function zoomTo(page, position, zoom) {
  let view = await page.evaluate(() => document.documentElement.dataset.mapView);
  for (let i = 0; i < 8 && Number(view.split(' ')[0]) < zoom; i++) {
    const [x, y] = await pixelOf(page, position);
    await page.mouse.dblclick(x, y - 40);
    await viewChange(page, view);
    view = await page.evaluate(() => document.documentElement.dataset.mapView);
  }
  const [x, y] = await pixelOf(page, position);
  const box = await page.evaluate(() => JSON.parse(JSON.stringify(document.getElementById('map').getBoundingClientRect())));
  await page.mouse.move(x, y - 40);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2 - 40, { steps: 10 });
  await page.mouse.up();
  await viewChange(page, view);
}

/** Clicks a camera on the canvas and waits for its panel to have read everything. */
async function openPanel(page, id, position) {
  const [x, y] = await pixelOf(page, position);
  await page.mouse.move(x, y);
  // The pointer over a camera shows its name and status.
  await page.waitForSelector('.leaflet-tooltip.camera-tag', { timeout: 5_000 });
  const tag = await page.textContent('.leaflet-tooltip.camera-tag');
  await page.mouse.click(x, y);
  await page.waitForSelector(`#pane-detail .camera-panel[data-device-id="${id}"][data-loaded="true"]`, { timeout: 15_000 });
  return page.evaluate((tag) => {
    const panel = document.querySelector('#pane-detail .camera-panel');
    const section = (name) => panel.querySelector(`[data-section="${name}"]`);
    return {
      title: document.querySelector('#pane-detail .detail-head h2')?.textContent,
      status: panel.dataset.status,
      statusText: panel.querySelector('.camera-status-text')?.textContent,
      about: [...section('about').querySelectorAll('.camera-row')].map((r) => [r.querySelector('dt').textContent, r.querySelector('dd').textContent]),
      grids: [...section('coverage').querySelectorAll('li[data-grid]')].map((li) => li.dataset.grid),
      gridText: [...section('coverage').querySelectorAll('li[data-grid]')].map((li) => li.textContent),
      sites: [...section('coverage').querySelectorAll('li[data-site]')].map((li) => li.dataset.site),
      siteText: [...section('coverage').querySelectorAll('li[data-site]')].map((li) => li.textContent),
      stream: section('stream').textContent,
      streamState: section('stream').dataset.state,
      history: { state: section('history').dataset.state, text: section('history').textContent, fraction: section('history').querySelector('.camera-fraction')?.textContent ?? '' },
      snapshot: { state: section('snapshot').dataset.state, text: section('snapshot').textContent },
      tag,
    };
  }, tag);
}

await run(base, async ({ context, newPage, expect, requests }) => {
  // No frame is grabbed in this test (no RTSP server), so GetSnapshot answers 404.
  expect({ method: 'GET', path: '/api/v1/streamHealth/cameras/', status: 404 });
  const devices = Object.fromEntries(await Promise.all(Object.entries(cameras).map(async ([name, id]) => [name, await api('GET', `/api/v1/devices/${id}`)])));
  const page = await newPage(key);

  // 1. What the page drew: two working cameras, one faulty, one offline, one never heard.
  const initial = await counts(page);
  const canvases = await page.evaluate(() => document.querySelectorAll('#map canvas').length);
  const legend = await page.evaluate(() => [...document.querySelectorAll('#legend-list li[data-layer="cameras"]')].map((l) => ({ status: l.querySelector('[data-status]')?.dataset.status ?? null, text: l.textContent })));
  await page.screenshot({ path: join(outputDir, 'cameras-county.png') });

  // 2. Live: a heartbeat over the JSON API turns the never-heard camera online on the page.
  const beat = Date.now();
  await api('POST', '/api/v1/devices:heartbeat', { deviceIds: [cameras.unknown] }, vendorKey);
  await waitCounts(page, { all: 5, online: 3, faulty: 1, offline: 1, unknown: 0 }, 'after the heartbeat');
  const heartbeatToDrawnMs = Date.now() - beat;

  // 3. Live: the gateway's keepalive sweep takes camera "second" offline (the C# test does it when asked).
  const asked = Date.now();
  writeFileSync(signal, 'offline');
  await waitCounts(page, { all: 5, online: 2, faulty: 1, offline: 2, unknown: 0 }, 'after the sweep');
  const offlineToDrawnMs = Date.now() - asked;

  // 4. Wedge zoom around the PTZ camera, then its panel against the gateway's own coverage answer.
  await zoomTo(page, devices.ptz.position, 16);
  await page.click('#tab-layers'); // the double clicks fell on a grid: the legend beside the wedges instead of its panel
  await settled(page); // the zoom animation's end (a screenshot only)
  await page.screenshot({ path: join(outputDir, 'cameras-wedges.png') });
  const zoomed = await page.evaluate(() => document.documentElement.dataset.mapView);
  const ptzPanel = await openPanel(page, cameras.ptz, devices.ptz.position);
  const ptzCoverage = await api('GET', `/api/v1/coverage/cameras/${cameras.ptz}`);
  const ptzHistory = await api('GET', `/api/v1/streamHealth/cameras/${cameras.ptz}/history`);
  await page.screenshot({ path: join(outputDir, 'cameras-panel.png') });
  const faultyPanel = await openPanel(page, cameras.faulty, devices.faulty.position);

  // 5. The panel of the offline camera follows its heartbeat.
  const offlinePanel = await openPanel(page, cameras.offline, devices.offline.position);
  const panelBeat = Date.now();
  await api('POST', '/api/v1/devices:heartbeat', { deviceIds: [cameras.offline] }, vendorKey);
  await page.waitForSelector(`#pane-detail .camera-panel[data-device-id="${cameras.offline}"][data-status="online"][data-loaded="true"]`, { timeout: 10_000 });
  const panelRefreshMs = Date.now() - panelBeat;
  await waitCounts(page, { all: 5, online: 3, faulty: 1, offline: 1, unknown: 0 }, 'after the offline camera\'s heartbeat');

  // 6. PTZ cameras' reach, on demand.
  await page.click('#tab-layers');
  const potentialBefore = await page.isChecked('#layer-ptzPotential');
  await page.check('#layer-ptzPotential');
  await settled(page); // the map at rest before the picture; nothing is asserted on it
  await page.screenshot({ path: join(outputDir, 'cameras-potential.png') });

  // 7. A deregistered camera leaves the map.
  await api('DELETE', `/api/v1/devices/${cameras.unknown}`, undefined, vendorKey);
  await waitCounts(page, { all: 4, online: 2, faulty: 1, offline: 1, unknown: 0 }, 'after the deregistration');

  // 8. English: the panel is rendered again in English.
  const englishPanel = await (async () => {
    await page.click('#language');
    await page.click('#tab-layers');
    const panel = await openPanel(page, cameras.ptz, devices.ptz.position);
    return { title: panel.title, statusText: panel.statusText, about: panel.about.map(([k]) => k), legend: await page.evaluate(() => [...document.querySelectorAll('#legend-list li[data-layer="cameras"]')].map((l) => l.textContent)) };
  })();
  await page.screenshot({ path: join(outputDir, 'cameras-panel-en.png') });
  const nodes = await page.evaluate(() => document.querySelectorAll('#map *').length);

  // 9. A planner sees the panel without a picture, and the page does not ask for one (GetSnapshot is not theirs).
  const snapshotsAsked = requests.filter((r) => r.endsWith('/snapshot')).length;
  await page.close();
  await context.clearCookies(); // the operator's session cookie: the next page signs in afresh
  const planner = await newPage(plannerKey);
  await zoomTo(planner, devices.ptz.position, 16);
  const plannerPanel = await openPanel(planner, cameras.ptz, devices.ptz.position);
  const plannerSnapshotRequests = requests.filter((r) => r.endsWith('/snapshot')).length - snapshotsAsked;

  return {
    initial, canvases, legend, heartbeatToDrawnMs, offlineToDrawnMs, zoomed, ptzPanel, ptzCoverage, ptzHistory, faultyPanel, offlinePanel,
    panelRefreshMs, potentialBefore, englishPanel, nodes, plannerPanel, plannerSnapshotRequests,
  };
});
