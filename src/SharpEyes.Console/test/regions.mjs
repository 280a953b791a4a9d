// The coverage view in a real browser against a gateway with the demo county: registers a few cameras (vendor key,
// JSON API) at key sites and brings them online so some grids are covered, opens the console as an operator, and
// checks that every grid's colour class is what the gateway's own numbers (GET /api/v1/coverage/grids, read here by
// Node) make it, that the key sites drawn uncovered are those the gateway lists uncovered, that clicking a grid on the
// map canvas shows the KPIs GET /api/v1/coverage/report answers, that a camera brought online in the clicked grid
// recolours it from its COVERAGE_GAP_CLOSED event within 2 s, that the trend chart draws (or says there is no history
// on a gateway without it), that English formats the numbers for its locale, and that no tile is requested without a
// base layer. Screenshots: regions-map.png, regions-detail.png, regions-en.png.
// Run by tests/SharpEyes.Gateway.Tests/Console/RegionsPageTests.cs:
//   SHARPEYES_KEY=se_... SHARPEYES_VENDOR_KEY=se_... node test/regions.mjs http://127.0.0.1:PORT/ OUTPUT_DIR
import { join } from 'node:path';
import { args, eventually, requireEnv, run } from './harness.mjs';
import { api, cameraRequest, classOf, interiorPoint, kpisShown, pixelCounts } from './regions-common.mjs';

const { base, outputDir } = args('SHARPEYES_KEY=se_... SHARPEYES_VENDOR_KEY=se_... node test/regions.mjs http://127.0.0.1:PORT/ OUTPUT_DIR');
const key = requireEnv('SHARPEYES_KEY');
const vendorKey = requireEnv('SHARPEYES_VENDOR_KEY');
const origin = new URL(base).origin;
const get = (path) => api(origin, key, 'GET', path);
const vendor = (method, path, body) => api(origin, vendorKey, method, path, body);

/** Reads the KPI cards of the details tab as the page shows them. */
const readCards = (page) => page.evaluate(() => [...document.querySelectorAll('#pane-detail .kpi-card')].map((c) => ({
  name: c.dataset.kpi, value: Number(c.dataset.value), met: c.dataset.met === 'true',
  numerator: Number(c.dataset.numerator), denominator: Number(c.dataset.denominator),
  text: c.querySelector('.kpi-value')?.textContent, classes: c.className,
})));

/** The page's KPIs must be the report's for that region, each beside its target with met or not. */
async function compareKpis(code, cards) {
  const report = await get(`/api/v1/coverage/report?regionPrefix=${code}`);
  const kpis = (report.summary.kpis ?? []).filter((k) => kpisShown.includes(k.name));
  if (cards.length !== kpisShown.length) {
    throw new Error(`the panel of ${code} shows ${cards.length} KPI cards, not ${kpisShown.length}`);
  }
  for (const kpi of kpis) {
    const card = cards.find((c) => c.name === kpi.name);
    // Online seconds grow with the gateway's clock between the page's read and this one (a test gateway's clock stands
    // still: equal there); every other KPI is equal.
    const slack = kpi.name === 'online_rate_time' ? 60 : 0;
    const same = card && Math.abs(card.value - (kpi.value ?? 0)) <= (slack ? 1e-3 : 1e-9) && card.met === !!kpi.met
      && Math.abs(card.numerator - Number(kpi.numerator ?? 0)) <= slack && Math.abs(card.denominator - Number(kpi.denominator ?? 0)) <= slack;
    if (!same) {
      throw new Error(`${code} ${kpi.name}: the page shows ${JSON.stringify(card)}, the report ${JSON.stringify(kpi)}`);
    }
    // A count over nothing (0 of 0) is judged neither met nor not met.
    const state = Number(kpi.denominator ?? 0) === 0 ? 'kpi-no-data' : (kpi.target ?? 0) > 0 ? (kpi.met ? 'kpi-met' : 'kpi-not-met') : 'kpi-no-target';
    if (!card.classes.includes(state)) {
      throw new Error(`${code} ${kpi.name} is drawn ${card.classes}, not ${state}`);
    }
  }
  return kpis.map(({ name, value, target, met, numerator, denominator }) => ({ name, value, target, met, numerator, denominator }));
}

await run(base, async ({ newPage, expect, problems }) => {
  // Cameras at five key sites, 360° with different ranges: some grids meet their target, some fall short.
  const siteList = (await get('/api/v1/coverage/keySites')).sites;
  const ranges = [400, 150, 60, 300, 25];
  const chosen = [0, 7, 14, 21, 28].map((i) => siteList[i]);
  const cameras = chosen.map((site, i) => cameraRequest(900 + i, site.position.lon, site.position.lat, ranges[i]));
  for (const camera of cameras) {
    await vendor('POST', '/api/v1/devices', camera);
  }
  await vendor('POST', '/api/v1/devices:heartbeat', { deviceIds: cameras.map((c) => c.deviceId) });
  // Declared coverage (the grids' camera counts) follows a registration within half a second: wait until it has.
  await eventually('the cameras counted in their grids', async () => {
    const grids = (await get('/api/v1/coverage/grids')).grids;
    return grids.reduce((n, g) => n + (g.cameras ?? 0), 0) >= cameras.length;
  });

  // A gateway without KPI history (before GetKpiHistory) refuses its route (403 from the access table): the page says
  // there is no history instead of a chart.
  const county = siteList[0].gridCode.slice(0, 6);
  const historyStatus = (await fetch(`${origin}/api/v1/coverage/history?regionCode=${county}`, { headers: { Authorization: `Bearer ${key}` } })).status;
  if (historyStatus !== 200) {
    expect({ method: 'GET', path: '/api/v1/coverage/history', status: historyStatus });
  }

  const page = await newPage(key);
  await page.waitForFunction(() => Number(document.documentElement.dataset.coverageLoads ?? 0) >= 1, null, { timeout: 10_000 });

  // Every grid's class as drawn, against the class the gateway's numbers give it.
  const apiGrids = (await get('/api/v1/coverage/grids')).grids;
  const drawn = Object.fromEntries((await page.evaluate(() => document.documentElement.dataset.gridClasses)).split(',').map((p) => p.split(':')));
  const classCounts = { met: 0, below: 0, far: 0, none: 0 };
  for (const grid of apiGrids) {
    const expected = classOf(grid);
    classCounts[expected]++;
    if (drawn[grid.code] !== expected) {
      throw new Error(`grid ${grid.code} is drawn ${drawn[grid.code]}, its numbers make it ${expected}: ${JSON.stringify(grid)}`);
    }
  }
  if (Object.keys(drawn).length !== apiGrids.length) {
    throw new Error(`the page drew ${Object.keys(drawn).length} grids, the gateway has ${apiGrids.length}`);
  }
  const apiUncovered = (await get('/api/v1/coverage/keySites')).sites.filter((s) => !s.coveredReal).map((s) => s.code).sort();
  const pageUncovered = (await page.evaluate(() => document.documentElement.dataset.sitesUncovered)).split(',').filter(Boolean).sort();
  if (JSON.stringify(apiUncovered) !== JSON.stringify(pageUncovered)) {
    throw new Error(`key sites drawn uncovered ${pageUncovered} differ from the gateway's ${apiUncovered}`);
  }
  await page.screenshot({ path: join(outputDir, 'regions-map.png') });
  // The canvas holds the key-site colours (opaque, so exact): covered blue and uncovered black. The cameras stand on
  // the covered sites and draw above them: their layer is switched off for the count, as a user would, then on again.
  const cameraLayer = (on) => page.evaluate((checked) => new Promise((resolve) => {
    const box = document.getElementById('layer-cameras');
    box.checked = checked;
    box.dispatchEvent(new Event('change'));
    requestAnimationFrame(() => requestAnimationFrame(resolve));
  }), on);
  await cameraLayer(false);
  const pixels = await page.evaluate(pixelCounts, { covered: [0x2c, 0x7f, 0xb8], uncovered: [0x11, 0x11, 0x11] });
  await cameraLayer(true);
  if (pixels.covered < 20 || pixels.uncovered < 20) {
    throw new Error(`the canvas shows too few key-site pixels: ${JSON.stringify(pixels)}`);
  }
  const tabCounts = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#pane-coverage .coverage-classes li')].map((li) => [li.dataset.class, li.querySelector('.coverage-count').textContent])));
  for (const [cls, count] of Object.entries(classCounts)) {
    if (tabCounts[cls] !== String(count)) {
      throw new Error(`the coverage tab counts ${tabCounts[cls]} grids ${cls}, the gateway's numbers ${count}`);
    }
  }

  // A click on the canvas where a township's name is written (the labels let clicks through): the grid there.
  const label = await page.$('.map-label-township');
  const box = await label.boundingBox();
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await page.mouse.click(at.x, at.y);
  await page.waitForSelector('#pane-detail[data-detail-kind="region"] .kpi-card', { timeout: 5_000 });
  const clicked = await page.evaluate(() => document.getElementById('pane-detail').dataset.detailId);
  if (!/^\d{13,20}$/.test(clicked)) {
    throw new Error(`the click showed ${clicked}, not a grid`);
  }
  const before = await compareKpis(clicked, await readCards(page));

  // The trend: points when the gateway keeps KPI history, else a clear "no history yet".
  const history = await fetch(`${origin}/api/v1/coverage/history?regionCode=${clicked}`, { headers: { Authorization: `Bearer ${key}` } });
  const historyPoints = history.ok ? ((await history.json()).points ?? []).length : 0;
  const trend = await page.evaluate(() => ({
    points: Number(document.querySelector('#pane-detail .region-trend')?.dataset.points ?? -1),
    charts: [...document.querySelectorAll('#pane-detail svg.trend')].map((s) => Number(s.dataset.points)),
    empty: document.querySelector('#pane-detail .trend-empty')?.textContent ?? '',
  }));
  if (trend.points !== historyPoints) {
    throw new Error(`the trend shows ${trend.points} snapshots, the gateway has ${historyPoints}`);
  }
  if (historyPoints > 0 ? trend.charts.length !== kpisShown.length || trend.charts.some((n) => n !== historyPoints) : !trend.empty.includes('暂无历史数据')) {
    throw new Error(`the trend is not drawn as expected: ${JSON.stringify(trend)} for ${historyPoints} snapshots`);
  }
  await page.screenshot({ path: join(outputDir, 'regions-detail.png') });

  // A camera brought online inside the clicked grid, big enough to meet its target: the gateway closes the grid's gap
  // and the page recolours it from the feed event.
  const grid = apiGrids.find((g) => g.code === clicked);
  const gridGeometry = JSON.parse((await get(`/api/v1/grids?codePrefix=${clicked}&level=4&includeGeometry=true`)).grids[0].geojson);
  const inside = interiorPoint(gridGeometry);
  const located = await get(`/api/v1/geography:locate?lon=${inside[0]}&lat=${inside[1]}`);
  if (located.region?.gridCode !== clicked) {
    throw new Error(`the point chosen inside ${clicked} is located in ${located.region?.gridCode}`);
  }
  const range = Math.min(5000, Math.ceil(Math.sqrt((3 * (grid.target || 0.05) * grid.areaM2) / Math.PI)));
  const added = cameraRequest(950, inside[0], inside[1], range);
  await vendor('POST', '/api/v1/devices', added);
  const classBefore = drawn[clicked];
  const started = Date.now();
  await vendor('POST', '/api/v1/devices:heartbeat', { deviceIds: [added.deviceId] });
  await page.waitForFunction((code) => document.documentElement.dataset.gridClasses.split(',').includes(`${code}:met`), clicked, { timeout: 2_000 });
  const recolourMs = Date.now() - started;
  const classAfter = await page.evaluate((code) => document.documentElement.dataset.gridClasses.split(',').find((p) => p.startsWith(`${code}:`)).split(':')[1], clicked);
  // The panel follows (a throttled reload of the report): the same KPIs as the gateway's, now with the camera.
  await page.waitForFunction(() => Number(document.querySelector('#pane-detail .kpi-card[data-kpi="online_rate"]')?.dataset.denominator ?? 0) >= 1, null, { timeout: 15_000 });
  const after = await compareKpis(clicked, await readCards(page));
  await page.screenshot({ path: join(outputDir, 'regions-detail-covered.png') });

  // English: the same panel with the locale's number formats.
  await page.click('#language');
  await page.waitForFunction(() => document.querySelector('#pane-detail .kpi-card h3')?.textContent === 'Key-site coverage', null, { timeout: 5_000 });
  const english = await page.evaluate(() => ({
    cards: [...document.querySelectorAll('#pane-detail .kpi-card')].map((c) => ({ name: c.dataset.kpi, value: Number(c.dataset.value), empty: c.dataset.denominator === '0', text: c.querySelector('.kpi-value').firstChild.textContent, amounts: c.querySelector('.kpi-amounts').textContent })),
    legend: [...document.querySelectorAll('#legend-list li[data-layer="coverage"], #legend-list li[data-layer="siteCoverage"]')].map((l) => l.textContent),
    tab: document.getElementById('tab-coverage')?.textContent,
  }));
  const percent = new Intl.NumberFormat('en-GB', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
  for (const card of english.cards) {
    // Over nothing: a dash in both languages.
    if (card.text !== (card.empty ? '—' : percent.format(card.value))) {
      throw new Error(`${card.name} reads ${card.text} in English, not ${percent.format(card.value)}`);
    }
  }
  const area = english.cards.find((c) => c.name === 'area_coverage');
  if (!/^[\d,]+\.\d{2} \/ [\d,]+\.\d{2} km²$/.test(area.amounts)) {
    throw new Error(`the area amounts read ${area.amounts} in English`);
  }
  await page.screenshot({ path: join(outputDir, 'regions-en.png') });

  // No base layer set: no tile requested (the harness fails on another origin; nothing under a tile-like path here).
  const baseLayer = await page.evaluate(() => document.documentElement.dataset.baseLayer ?? 'unknown');
  if (problems.length === 0 && (await page.evaluate(() => document.querySelectorAll('.leaflet-tile').length)) > 0) {
    throw new Error('tiles are drawn with no base layer set');
  }
  return { classCounts, uncoveredSites: apiUncovered.length, pixels, clicked, classBefore, classAfter, recolourMs, before, after, historyPoints, trend, english, baseLayer };
});
