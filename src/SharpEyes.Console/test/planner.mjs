// The planner view in a real browser against a running gateway (the demo county with its cameras): signs in with a
// planner key, reads the blind-spot table (all, grids only, one township), links a row to the map and the map back to
// the row, draws the township's uncovered area, asks for 3 placement suggestions with the 8 mm lens, downloads the three
// exports, then registers two cameras over the JSON API (a vendor key) at the township's top blind spot and waits for
// the table to go stale and reload without it. Last, an operator's page has no planning tab and asks for nothing of it.
// Keys come in environment variables (SHARPEYES_PLANNER_KEY, SHARPEYES_OPERATOR_KEY, SHARPEYES_VENDOR_KEY).
// Run by tests/SharpEyes.Gateway.Tests/Console/PlannerPageTests.cs, which checks what it prints against gRPC:
//   SHARPEYES_PLANNER_KEY=se_... SHARPEYES_OPERATOR_KEY=se_... SHARPEYES_VENDOR_KEY=se_... \
//     node test/planner.mjs http://127.0.0.1:PORT/ OUTPUT_DIR [TOWNSHIP]
// Prints one JSON line: what it saw. Exit code 1 with the reasons on stderr when a check failed.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { args, eventually, requireEnv, run } from './harness.mjs';

const { base, outputDir, rest } = args('SHARPEYES_PLANNER_KEY=... SHARPEYES_OPERATOR_KEY=... SHARPEYES_VENDOR_KEY=... node test/planner.mjs http://127.0.0.1:PORT/ OUTPUT_DIR [TOWNSHIP]');
const plannerKey = requireEnv('SHARPEYES_PLANNER_KEY');
const operatorKey = requireEnv('SHARPEYES_OPERATOR_KEY');
const vendorKey = requireEnv('SHARPEYES_VENDOR_KEY');
const township = rest[0] ?? '130127104';
const liveCameraIds = ['13012700001320099001', '13012700001320099002'];

/** The table's rows as the page shows them, and its state. */
const readTable = (page) => page.evaluate(() => {
  const table = document.getElementById('plan-blind-spots');
  return {
    state: table.dataset.state,
    generation: Number(table.dataset.generation),
    region: table.dataset.region,
    kind: table.dataset.kind,
    rows: [...table.querySelectorAll('tbody tr')].map((r) => ({ code: r.dataset.code, kind: r.dataset.kind, rank: Number(r.dataset.rank) })),
    firstRowText: table.querySelector('tbody tr')?.innerText ?? '',
  };
});

/** Waits until the table shows a finished load newer than `after` for that region and kind. */
async function tableReady(page, after, region, kind) {
  await page.waitForFunction(([after, region, kind]) => {
    const t = document.getElementById('plan-blind-spots');
    return t.dataset.state === 'ready' && Number(t.dataset.generation) > after && t.dataset.region === region && t.dataset.kind === kind;
  }, [after, region, kind], { timeout: 30_000 });
  return readTable(page);
}

/** Pixels of the map canvas within `tolerance` of an RGB colour (the overlays drew, not only their data). */
const countPixels = (page, rgb, tolerance) => page.evaluate(([rgb, tolerance]) => {
  const canvas = document.querySelector('#map canvas');
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - rgb[0]) <= tolerance && Math.abs(data[i + 1] - rgb[1]) <= tolerance && Math.abs(data[i + 2] - rgb[2]) <= tolerance && data[i + 3] > 200) {
      count++;
    }
  }
  return count;
}, [rgb, tolerance]);

/** Waits until the map has come to rest at (lng, lat) (the planner records where the map stopped). */
const mapAt = (page, lng, lat, zoom) => page.waitForFunction(([lng, lat, zoom]) => {
  const pane = document.getElementById('pane-planning');
  const [x, y] = (pane.dataset.mapCentre ?? '0,0').split(',').map(Number);
  return Math.abs(x - lng) < 1e-4 && Math.abs(y - lat) < 1e-4 && Number(pane.dataset.mapZoom) === zoom;
}, [lng, lat, zoom], { timeout: 15_000 });

async function download(page, button) {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(button)]);
  const failure = await file.failure();
  if (failure) {
    throw new Error(`the download of ${button} failed: ${failure}`);
  }
  return { name: file.suggestedFilename(), url: file.url(), content: await readFile(await file.path(), 'utf8') };
}

async function api(method, path, body) {
  const response = await fetch(new URL(path, base), {
    method, headers: { Authorization: `Bearer ${vendorKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  }
  return response.json();
}

await run(base, async ({ context, newPage }) => {
  const page = await newPage(plannerKey);
  const role = await page.evaluate(() => document.documentElement.dataset.role);
  await page.click('#tab-planning');
  const county = await page.evaluate(() => document.getElementById('plan-region').value);

  // The ranking of the whole county, key sites and grids.
  const all = await tableReady(page, 0, county, 'all');
  await page.waitForSelector('#plan-uncovered[data-state="ready"]', { timeout: 30_000 });
  const headers = await page.$$eval('#plan-blind-spots th', (ths) => ths.map((th) => th.textContent));
  const fontPx = await page.$eval('#plan-blind-spots td', (td) => parseFloat(getComputedStyle(td).fontSize));

  // A row to the map: the map flies to the blind spot and rings it; the row is marked.
  const second = all.rows[1];
  await page.click(`#plan-blind-spots tr[data-code="${second.code}"]`);
  const position = await (await fetch(new URL(`/api/v1/coverage/blindSpots?includeGrids=true&limit=200&regionPrefix=${county}`, base), { headers: { Authorization: `Bearer ${plannerKey}` } })).json()
    .then((a) => a.blindSpots.find((b) => b.code === second.code).position);
  await mapAt(page, position.lon, position.lat, second.kind === 'grid' ? 15 : 17);
  const rowToMap = await page.evaluate(() => ({
    selected: document.getElementById('plan-blind-spots').dataset.selected,
    rowMarked: document.querySelector('#plan-blind-spots tr.selected')?.dataset.code,
    tooltip: document.querySelector('.leaflet-tooltip.plan-tooltip')?.textContent ?? '',
  }));
  await page.screenshot({ path: join(outputDir, 'planner-selected.png') });

  // The map to the row: unselect (a second click on the row), then hover and click the ring at the map's centre.
  await page.click(`#plan-blind-spots tr[data-code="${second.code}"]`);
  const box = await page.$eval('#map', (m) => { const r = m.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; });
  await page.mouse.move(box.x, box.y);
  await page.waitForFunction(() => document.getElementById('plan-blind-spots').dataset.hovered !== '', null, { timeout: 5_000 });
  const hovered = await page.evaluate(() => ({
    key: document.getElementById('plan-blind-spots').dataset.hovered,
    rowMarked: document.querySelector('#plan-blind-spots tr.hovered')?.dataset.code,
  }));
  await page.mouse.click(box.x, box.y);
  await page.waitForFunction(() => document.getElementById('plan-blind-spots').dataset.selected !== '', null, { timeout: 5_000 });
  const mapToRow = await page.evaluate(() => ({
    key: document.getElementById('plan-blind-spots').dataset.selected,
    rowMarked: document.querySelector('#plan-blind-spots tr.selected')?.dataset.code,
  }));

  // Grids only: the same ranking, its grids.
  await page.selectOption('#plan-kind', 'grid');
  const grids = await tableReady(page, all.generation, county, 'grid');
  await page.selectOption('#plan-kind', 'all');
  await tableReady(page, grids.generation, county, 'all');

  // One township: its ranking and its uncovered area.
  const before = (await readTable(page)).generation;
  await page.selectOption('#plan-region', township);
  const inTownship = await tableReady(page, before, township, 'all');
  await page.waitForSelector(`#plan-uncovered[data-state="ready"][data-region="${township}"]`, { timeout: 30_000 });
  const uncovered = await page.evaluate(() => {
    const n = document.getElementById('plan-uncovered');
    return { areaM2: Number(n.dataset.areaM2), features: Number(n.dataset.features), drawn: Number(n.dataset.drawn), text: n.textContent };
  });
  // The hatch (#c9184a at 85 % over the map) and its outline.
  uncovered.pixels = await countPixels(page, [205, 55, 100], 45);

  // Placement: 3 cameras with the 8 mm lens.
  await page.fill('#plan-count', '3');
  await page.selectOption('#plan-lens', 'long');
  await page.click('#plan-suggest');
  await page.waitForSelector('#plan-suggestions[data-state="ready"], #plan-suggestions[data-state="error"]', { timeout: 60_000 });
  await page.waitForFunction(() => document.getElementById('pane-planning').dataset.mapZoom !== undefined);
  const placement = await page.evaluate(() => {
    const list = document.getElementById('plan-suggestions');
    return {
      state: list.dataset.state,
      wedges: Number(list.dataset.wedges),
      numbers: document.querySelectorAll('.plan-number').length,
      items: [...list.querySelectorAll('li[data-rank]')].map((li) => ({
        rank: Number(li.dataset.rank), gain: Number(li.dataset.gain), gainAreaM2: Number(li.dataset.gainAreaM2),
        lon: Number(li.dataset.lon), lat: Number(li.dataset.lat), text: li.innerText,
      })),
      note: document.querySelector('#plan-suggestions')?.previousElementSibling?.textContent ?? '',
    };
  });
  // Let the fit to the suggestions end, then count the wedges' outline (#3c096c) on the canvas.
  await eventually('the wedges drawn', async () => (placement.pixels = await countPixels(page, [60, 9, 108], 30)) > 50, 10_000);
  await page.screenshot({ path: join(outputDir, 'planner-zh.png') });

  // A suggestion in the list to its wedge on the map.
  const pick = placement.items[placement.items.length - 1];
  await page.click(`#plan-suggestions li[data-rank="${pick.rank}"]`);
  await mapAt(page, pick.lon, pick.lat, 18);
  placement.focused = await page.evaluate(() => document.getElementById('plan-suggestions').dataset.selected);
  await page.screenshot({ path: join(outputDir, 'planner-wedge.png') });

  // The three exports, as files.
  const report = await download(page, '#plan-export-report');
  const uncoveredFile = await download(page, '#plan-export-uncovered');
  const suggestionsFile = await download(page, '#plan-export-suggestions');
  const csvLines = report.content.split('\n').filter((l) => l !== '');
  const uncoveredJson = JSON.parse(uncoveredFile.content);
  const suggestionsJson = JSON.parse(suggestionsFile.content);
  const exports = {
    report: { name: report.name, blob: report.url.startsWith('blob:'), header: csvLines[0], lines: csvLines.length, firstCode: csvLines[1]?.split(',')[0] },
    uncovered: { name: uncoveredFile.name, blob: uncoveredFile.url.startsWith('blob:'), type: uncoveredJson.type, features: uncoveredJson.features.length, areaM2: uncoveredJson.features.reduce((s, f) => s + f.properties.uncovered_m2, 0) },
    suggestions: {
      name: suggestionsFile.name, blob: suggestionsFile.url.startsWith('blob:'), type: suggestionsJson.type, features: suggestionsJson.features.length,
      geometry: suggestionsJson.features.map((f) => f.geometry.type),
      gains: suggestionsJson.features.map((f) => f.properties.gain),
      closed: suggestionsJson.features.every((f) => JSON.stringify(f.geometry.coordinates[0][0]) === JSON.stringify(f.geometry.coordinates[0].at(-1))),
    },
  };

  // Live: a camera registered and heard at the township's top blind spot covers it; the table goes stale at once,
  // reloads by itself, and the spot is gone. The placements are marked out of date.
  const top = inTownship.rows[0];
  const spot = await (await fetch(new URL(`/api/v1/coverage/blindSpots?includeGrids=true&limit=200&regionPrefix=${township}`, base), { headers: { Authorization: `Bearer ${plannerKey}` } })).json()
    .then((a) => a.blindSpots.find((b) => b.code === top.code));
  await page.evaluate(() => {
    window.plannerStates = [];
    const table = document.getElementById('plan-blind-spots');
    new MutationObserver(() => window.plannerStates.push(table.dataset.state)).observe(table, { attributes: true, attributeFilter: ['data-state'] });
  });
  const generationBeforeLive = (await readTable(page)).generation;
  const registeredAt = Date.now();
  // Two cameras: an intersection needs two.
  for (const deviceId of liveCameraIds) {
    await api('POST', '/api/v1/devices', {
      deviceId, kind: 'DEVICE_KIND_CAMERA', name: 'planner test camera', model: 'DS-2CD',
      position: { lon: spot.position.lon, lat: spot.position.lat, datum: 'DATUM_WGS84' },
      camera: { azimuthDeg: 0, hfovDeg: 360, rangeM: 400, resolutionWidth: 1920, resolutionHeight: 1080 },
    });
  }
  await api('POST', '/api/v1/devices:heartbeat', { deviceIds: liveCameraIds });
  await page.waitForFunction(([code, after]) => {
    const t = document.getElementById('plan-blind-spots');
    return t.dataset.state === 'ready' && Number(t.dataset.generation) > after && !t.querySelector(`tr[data-code="${code}"]`);
  }, [top.code, generationBeforeLive], { timeout: 30_000 });
  const afterLive = await readTable(page);
  const liveState = {
    covered: top.code, reloadedMs: Date.now() - registeredAt,
    states: await page.evaluate(() => window.plannerStates),
    placementsState: await page.evaluate(() => document.getElementById('plan-suggestions').dataset.state),
  };

  await page.click('#language');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  const english = await page.evaluate(() => ({
    tab: document.getElementById('tab-planning').textContent,
    headers: [...document.querySelectorAll('#plan-blind-spots th')].map((th) => th.textContent),
    firstRow: document.querySelector('#plan-blind-spots tbody tr')?.innerText ?? '',
    uncovered: document.getElementById('plan-uncovered').textContent,
  }));
  await page.screenshot({ path: join(outputDir, 'planner-en.png') });
  await page.click('#language');
  await page.close();

  // An operator: no planning tab, and none of the planner's requests.
  await context.clearCookies();
  const operatorRequests = [];
  context.on('request', (r) => operatorRequests.push(new URL(r.url()).pathname));
  const operatorPage = await newPage(operatorKey);
  const operator = await operatorPage.evaluate(() => ({
    role: document.documentElement.dataset.role,
    tabs: [...document.querySelectorAll('#tabs button')].map((b) => b.id),
    planningTab: document.getElementById('tab-planning') !== null,
  }));
  operator.plannerRequests = operatorRequests.filter((p) => /^\/api\/v1\/coverage\/(blindSpots|placements|map|report:export)/.test(p));
  await operatorPage.close();

  return {
    role, county, township, headers, fontPx,
    all: all.rows, allFirstRow: all.firstRowText, grids: grids.rows, inTownship: inTownship.rows,
    rowToMap: { code: second.code, kind: second.kind, ...rowToMap }, hovered, mapToRow,
    uncovered, placement, exports, afterLive: afterLive.rows, live: liveState, english, operator,
  };
});
