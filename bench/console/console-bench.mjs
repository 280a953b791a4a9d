// The console benchmark: the real console, served by a running gateway, in Debian's chromium, headless, no GPU,
// 1920 x 1080, driven by playwright-core (bench/run.sh console starts the gateways and calls this). Per run, a fresh
// browser context:
//   drawn   ms from navigation start to the page's map drawn with every view's data (html[data-map="drawn"]: regions,
//           key sites, cameras, coverage, incidents read and drawn), sign-in excluded (the session cookie is set first)
//   heap    JS heap in use after a forced GC, once drawn (CDP HeapProfiler.collectGarbage + Runtime.getHeapUsage)
//   pan     ms from a view change without animation (5 pans, 5 zooms) to the next two animation frames
// and, with --alarms N (demo county only): N alarms published one at a time over MQTT by this script (QoS 1; the next
// after the previous one shows), each timed from just before publish to the page showing it in the incident inbox
// (a MutationObserver in the page stamps when the inbox's alarm total changes; same machine clock via Date.now()).
// Usage: node console-bench.mjs --url http://127.0.0.1:H/ --runs 3 [--alarms 200 --mqtt-port Q] [--label L] [--json OUT] (keys in env:
// BENCH_ADMIN_KEY; the script makes an operator key and, for alarms, a vendor key and an alarm device)
// Prints one JSON line.
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import mqtt from 'mqtt';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const base = arg('url');
const runs = Number(arg('runs', '3'));
const alarms = Number(arg('alarms', '0'));
const mqttPort = Number(arg('mqtt-port', '0'));
const label = arg('label', 'county');
const admin = process.env.BENCH_ADMIN_KEY;
if (!base || !admin) {
  console.error('usage: BENCH_ADMIN_KEY=... node console-bench.mjs --url http://127.0.0.1:PORT/ [--runs 3] [--alarms 200 --mqtt-port Q]');
  process.exit(2);
}

async function api(method, path, body, key = admin) {
  const response = await fetch(new URL(path, base), {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${text}`);
  }
  return text ? JSON.parse(text) : {};
}

const operator = (await api('POST', '/api/v1/keys', { role: 'ROLE_OPERATOR', description: 'console bench operator' })).apiKey;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true });

/** A context signed in through the session API (the cookie), so sign-in is outside the timed navigation. */
async function signedInContext() {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', serviceWorkers: 'block' });
  const answer = await context.request.post(new URL('/api/session', base).href, { data: { apiKey: operator } });
  if (!answer.ok()) {
    throw new Error(`sign-in: ${answer.status()} ${await answer.text()}`);
  }
  return context;
}

const frames = (page) => page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

const results = [];
for (let run = 0; run < runs; run++) {
  const context = await signedInContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const started = Date.now();
  await page.goto(base, { waitUntil: 'load' });
  await page.waitForSelector('html[data-map="drawn"], html[data-map="failed"]', { timeout: 180_000 });
  const drawn = Date.now() - started;
  const state = await page.evaluate(() => ({ ...document.documentElement.dataset }));
  if (state.map !== 'drawn') {
    throw new Error(`the map did not draw: ${await page.textContent('#status')}`);
  }
  const cdp = await context.newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');

  // View changes: pans of a quarter screen and zooms in and out, each timed to the next two frames.
  const moves = [];
  const box = await page.locator('#map').boundingBox();
  for (let i = 0; i < 10; i++) {
    const t = Date.now();
    if (i % 2 === 0) {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + (i % 4 === 0 ? 300 : -300), box.y + box.height / 2 + 100, { steps: 4 });
      await page.mouse.up();
    } else {
      await page.mouse.wheel(0, i % 4 === 1 ? -300 : 300);
    }
    await frames(page);
    moves.push(Date.now() - t);
  }
  results.push({ drawn, heapMiB: +(usedSize / 1048576).toFixed(1), moveP50: quantile(moves, 0.5), moveMax: Math.max(...moves), errors: errors.length, cameras: Number(state.cameras ?? 0) });
  await context.close();
}

let latency;
if (alarms > 0) {
  // One vendor, one alarm device in the demo county (a grid of 高邑镇), then alarms one at a time.
  const vendor = (await api('POST', '/api/v1/keys', { role: 'ROLE_VENDOR', vendorId: 'bench-console', description: 'console bench vendor' })).apiKey;
  const deviceId = '13012710401340000977';
  await api('POST', '/api/v1/devices', { deviceId, kind: 'DEVICE_KIND_ALARM_DEVICE', name: 'bench alarm input', position: { lon: 114.6109, lat: 37.6152 } }, vendor);
  const context = await signedInContext();
  const page = await context.newPage();
  await page.goto(base, { waitUntil: 'load' });
  await page.waitForSelector('html[data-map="drawn"]', { timeout: 120_000 });
  // The page's own record of when its inbox showed each alarm total (the inbox sets data-alarms on each incident row).
  await page.evaluate(() => {
    const seen = (window.__benchSeen = []);
    const total = () => [...document.querySelectorAll('[data-incident-id]')].reduce((n, row) => n + Number(row.dataset.alarms ?? 0), 0);
    let last = total();
    new MutationObserver(() => {
      const now = total();
      if (now !== last) {
        last = now;
        seen.push({ total: now, at: Date.now() });
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-alarms'] });
  });
  const before = await page.evaluate(() => [...document.querySelectorAll('[data-incident-id]')].reduce((n, row) => n + Number(row.dataset.alarms ?? 0), 0));
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: 'bench-console', password: vendor, protocolVersion: 5, clientId: 'console-bench', clean: true });
  const times = [];
  for (let i = 0; i < alarms; i++) {
    const payload = JSON.stringify({ eventId: `console-bench-${Date.now()}-${i}`, occurredAt: new Date().toISOString(), priority: 1 + (i % 4), method: 5, type: 6, description: `console bench alarm ${i}` });
    const t = Date.now();
    await client.publishAsync(`sharpeyes/v1/alarms/${deviceId}`, payload, { qos: 1 });
    const target = before + i + 1;
    await page.waitForFunction((n) => window.__benchSeen.some((s) => s.total >= n), target, { timeout: 10_000, polling: 20 });
    const shown = await page.evaluate((n) => window.__benchSeen.find((s) => s.total >= n).at, target);
    times.push(shown - t);
  }
  await client.endAsync();
  await context.close();
  latency = { count: times.length, p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: Math.max(...times) };
}

await browser.close();
const range = (key) => [Math.min(...results.map((r) => r[key])), Math.max(...results.map((r) => r[key]))];
const summary = { label, runs: results, drawn: range('drawn'), heapMiB: range('heapMiB'), moveP50: range('moveP50'), latency };
if (arg('json')) {
  writeFileSync(arg('json'), JSON.stringify(summary));
}
console.log(JSON.stringify(summary));
