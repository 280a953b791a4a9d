// The console in a real browser: Debian's chromium, headless, driven by playwright-core, loads the page from a
// running gateway, waits for the map to draw the county, records every request the page and its workers make and
// fails on any to another origin (or a Content-Security-Policy violation, a page error or a failed request), switches
// to English and back, turns a layer off, and writes screenshots.
// Run by tests/SharpEyes.Gateway.Tests/Console/ConsolePageTests.cs:
//   node test/console-page.mjs http://127.0.0.1:PORT/ OUTPUT_DIR
// Prints one JSON line: what it saw. Exit code 1 with the reasons on stderr when a check failed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, outputDir] = process.argv.slice(2);
if (!base || !outputDir) {
  console.error('usage: node test/console-page.mjs http://127.0.0.1:PORT/ OUTPUT_DIR');
  process.exit(2);
}
const origin = new URL(base).origin;
mkdirSync(outputDir, { recursive: true });

const problems = [];
const requests = [];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true });
try {
  const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', serviceWorkers: 'block' });
  const page = await context.newPage();
  // Every request of the context: the page, its frames and its workers. data: and blob: URLs are not network requests.
  context.on('request', (request) => {
    const url = request.url();
    requests.push(url);
    if (!url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin) {
      problems.push(`request to another origin: ${request.method()} ${url}`);
    }
  });
  context.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
  context.on('response', (response) => {
    if (response.status() >= 400) {
      problems.push(`${response.status()} for ${response.url()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') {
      problems.push(`console error: ${message.text()}`);
    }
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });

  const started = Date.now();
  await page.goto(base, { waitUntil: 'load' });
  await page.waitForSelector('html[data-map="drawn"], html[data-map="failed"]', { timeout: 30_000 });
  const drawnMs = Date.now() - started;
  const state = await page.evaluate(() => ({
    map: document.documentElement.dataset.map,
    regions: Number(document.documentElement.dataset.regions ?? 0),
    keySites: Number(document.documentElement.dataset.keySites ?? 0),
    lang: document.documentElement.lang,
    title: document.title,
    heading: document.querySelector('h1')?.textContent,
    status: document.getElementById('status')?.textContent,
    layers: [...document.querySelectorAll('#layer-list label')].map((l) => l.textContent),
    legend: [...document.querySelectorAll('#legend-list li:not([hidden])')].map((l) => l.textContent),
    // The map canvas has pixels of the county's border colour: it drew, not only fired its event.
    drawnPixels: (() => {
      const canvas = document.querySelector('#map canvas');
      const context2d = canvas?.getContext('2d');
      if (!canvas || !context2d) {
        return 0;
      }
      const { data } = context2d.getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (Math.abs(data[i] - 0x1d) < 12 && Math.abs(data[i + 1] - 0x35) < 12 && Math.abs(data[i + 2] - 0x57) < 12 && data[i + 3] > 200) {
          count++;
        }
      }
      return count;
    })(),
  }));
  await page.screenshot({ path: join(outputDir, 'console-zh.png') });
  if (state.map !== 'drawn') {
    throw new Error(`the map did not draw the county: ${state.status}`);
  }

  await page.click('#language');
  const english = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    heading: document.querySelector('h1')?.textContent,
    status: document.getElementById('status')?.textContent,
    layers: [...document.querySelectorAll('#layer-list label')].map((l) => l.textContent),
  }));
  await page.uncheck('#layer-villages');
  const legendWithoutVillages = await page.evaluate(() => [...document.querySelectorAll('#legend-list li:not([hidden])')].map((l) => l.textContent));
  await page.screenshot({ path: join(outputDir, 'console-en.png') });
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('html[data-map="drawn"]', { timeout: 30_000 });
  const langAfterReload = await page.evaluate(() => document.documentElement.lang);

  console.log(JSON.stringify({ drawnMs, ...state, english, legendWithoutVillages, langAfterReload, requests }));
} catch (e) {
  problems.push(`check failed: ${e.stack ?? e}`);
} finally {
  await browser.close();
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
