// The console's map-library benchmark: OpenLayers, MapLibre GL and Leaflet each draw the same synthetic county
// (gen-data.mjs: 220 real regions, 2,000 grids, 5,000 key sites, 20,000 cameras) at 1920 x 1080 in Debian's chromium,
// headless, on a machine with no GPU, driven by playwright-core. Per run (a fresh browser each):
//   drawn      ms from navigation start to the map drawn (OpenLayers rendercomplete, MapLibre idle, Leaflet two frames
//              after the layers were added; the data fetch and parse are inside it, the same file for all three)
//   move       ms from a view change without animation (pan or zoom, 10 of them) to the map drawn again
//   frame      ms between animation frames during a 1 s animated pan of a quarter screen, to the redraw at its end
//   status     ms from one camera's status change (online <-> offline: a live event) to the map showing it, 10 cameras
//   hit        ms to find the camera under a pixel, as a click does (50 pixels; OpenLayers getFeaturesAtPixel, MapLibre
//              queryRenderedFeatures, Leaflet a synthetic click on its canvas, whose renderer searches its layers)
//   heap       JS heap in use after a forced GC, after the moves (CDP Runtime.getHeapUsage)
// ol-image is OpenLayers with VectorImage layers instead of Vector layers.
// Usage: node run.mjs [runs=5] [libraries=ol,ol-image,maplibre,leaflet]; writes ../results/console-<time>.json (bench/results is
// not committed) and prints a Markdown table of ranges.
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { loadavg, cpus } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const here = fileURLToPath(new URL('.', import.meta.url));
const out = join(here, 'build');
const runs = Number(process.argv[2] ?? 5);
const libraries = (process.argv[3] ?? 'ol,ol-image,maplibre,leaflet').split(',');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

execFileSync(process.execPath, [join(here, 'gen-data.mjs')], { stdio: 'inherit' });
await build({
  entryPoints: libraries.map((l) => join(here, 'pages', `${l}.ts`)),
  bundle: true, minify: true, format: 'esm', target: 'es2022', outdir: out, logLevel: 'warning',
  loader: { '.png': 'dataurl', '.svg': 'dataurl' },
});
// MapLibre GL 6 starts its workers from maplibre-gl-worker.mjs beside the bundle (a URL relative to import.meta.url).
for (const f of ['maplibre-gl-worker.mjs', 'maplibre-gl-shared.mjs']) {
  writeFileSync(join(out, f), readFileSync(join(here, 'node_modules', 'maplibre-gl', 'dist', f)));
}
for (const lib of libraries) {
  writeFileSync(join(out, `${lib}.html`), readFileSync(join(here, 'pages', 'page.html'), 'utf8').replaceAll('LIB', lib));
}

const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };
const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
  const file = join(out, path);
  if (!file.startsWith(out) || !existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const results = [];
// Runs interleave the libraries (run 1 of each, then run 2...), so that load from elsewhere falls on all of them alike.
for (let run = 0; run < runs; run++) {
  for (const lib of libraries) {
    const browser = await chromium.launch({ executablePath, headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      const cdp = await page.context().newCDPSession(page);
      await page.goto(`${origin}/${lib}.html`);
      await page.waitForFunction(() => window.bench?.drawnAt || window.bench?.error, null, { timeout: 120_000 });
      const first = await page.evaluate(() => ({ drawnAt: window.bench.drawnAt, error: window.bench.error, renderer: window.bench.renderer }));
      if (first.error) {
        throw new Error(`${lib}: ${first.error}`);
      }
      if (run === 0) {
        mkdirSync(join(here, '..', 'results'), { recursive: true });
        await page.screenshot({ path: join(here, '..', 'results', `console-${lib}.png`) });
      }
      const moves = [];
      for (let i = 0; i < 10; i++) {
        moves.push(await page.evaluate((k) => window.bench.move(k), i));
      }
      const frames = await page.evaluate(() => window.bench.animatedPan());
      const updates = [];
      for (let k = 0; k < 10; k++) {
        updates.push(await page.evaluate((i) => window.bench.changeStatus(i), k * 1999));
      }
      // 50 pixels, the same for every library (a fixed sequence), over the middle of the map.
      const pixels = Array.from({ length: 50 }, (_, k) => [200 + ((k * 7919) % 1500), 100 + ((k * 104729) % 880)]);
      const hits = await page.evaluate((p) => window.bench.hit(p), pixels);
      await cdp.send('HeapProfiler.collectGarbage');
      const heap = await cdp.send('Runtime.getHeapUsage');
      const row = {
        library: lib, run, renderer: first.renderer, drawnMs: first.drawnAt,
        moveMedianMs: quantile(moves, 0.5), moveMaxMs: Math.max(...moves),
        statusMedianMs: quantile(updates, 0.5), statusMaxMs: Math.max(...updates),
        hitMedianMs: quantile(hits.ms, 0.5), hitMaxMs: Math.max(...hits.ms), hitsFound: hits.found,
        frames: frames.length, frameMedianMs: quantile(frames, 0.5), frameMaxMs: Math.max(...frames),
        heapMiB: heap.usedSize / 2 ** 20, errors,
      };
      results.push(row);
      console.error(JSON.stringify(row));
    } finally {
      await browser.close();
    }
  }
}
server.close();

const version = (p) => JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version;
const chromiumVersion = execFileSync(executablePath, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const file = join(here, '..', 'results', `console-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(join(here, '..', 'results'), { recursive: true });
const load = loadavg().map((x) => x.toFixed(1)).join(' ');
writeFileSync(file, JSON.stringify({ chromium: chromiumVersion, cpus: cpus().length, loadAverageAfter: load, versions: { ol: version('ol'), 'maplibre-gl': version('maplibre-gl'), leaflet: version('leaflet') }, results }, null, 2));

const range = (xs, digits = 0) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
console.log(`${chromiumVersion}, headless, no GPU, 1920 x 1080, ${cpus().length} cores (load average ${load} at the end); ${runs} runs each (a fresh browser per run); ranges over the runs\n`);
console.log("| library | renderer | navigation to drawn, ms | redraw after pan/zoom, median ms | worst redraw, ms | animated pan: frames in 1 s pan, median frame ms | worst frame, ms | a camera's status change shown, median ms | worst, ms | camera under a click, median ms | worst, ms | JS heap, MiB |");
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const lib of libraries) {
  const r = results.filter((x) => x.library === lib);
  console.log(`| ${lib} ${version(lib.startsWith('ol') ? 'ol' : lib === 'maplibre' ? 'maplibre-gl' : 'leaflet')} | ${r[0].renderer.replace(/^(WebGL2?) .*SwiftShader.*$/, '$1, SwiftShader (ANGLE on Vulkan)')} | ${range(r.map((x) => x.drawnMs))} | ${range(r.map((x) => x.moveMedianMs))} | ${range(r.map((x) => x.moveMaxMs))} | ${range(r.map((x) => x.frames))}, ${range(r.map((x) => x.frameMedianMs))} | ${range(r.map((x) => x.frameMaxMs))} | ${range(r.map((x) => x.statusMedianMs))} | ${range(r.map((x) => x.statusMaxMs))} | ${range(r.map((x) => x.hitMedianMs), 1)} | ${range(r.map((x) => x.hitMaxMs), 1)} | ${range(r.map((x) => x.heapMiB), 1)} |`);
}
console.log(`\nraw: ${file}`);
