// The console in a real browser: Debian's chromium, headless, driven by playwright-core, loads the page from a
// running gateway, waits for the map to draw the county, records every request the page and its workers make and
// fails on any to another origin (or a Content-Security-Policy violation, a page error or a failed request), switches
// to English and back, turns a layer off, and writes screenshots.
// Signs in first with the operator key in SHARPEYES_KEY (an environment variable, not an argument: arguments are in
// the process list), and checks afterwards that the key is nowhere the page can reach (cookies, storage, the URL).
// Run by tests/SharpEyes.Gateway.Tests/Console/ConsolePageTests.cs:
//   SHARPEYES_KEY=se_... node test/console-page.mjs http://127.0.0.1:PORT/ OUTPUT_DIR
// Prints one JSON line: what it saw. Exit code 1 with the reasons on stderr when a check failed.
import { join } from 'node:path';
import { args, requireEnv, run } from './harness.mjs';

const { base, outputDir } = args('SHARPEYES_KEY=se_... node test/console-page.mjs http://127.0.0.1:PORT/ OUTPUT_DIR');
const key = requireEnv('SHARPEYES_KEY');

await run(base, async ({ context, watch }) => {
  const page = await context.newPage();
  watch(page);
  const started = Date.now();
  await page.goto(base, { waitUntil: 'load' });
  // The sign-in form, then the key, once.
  await page.waitForSelector('dialog#signin[open]', { timeout: 30_000 });
  const signInShownMs = Date.now() - started;
  await page.screenshot({ path: join(outputDir, 'console-signin.png') });
  await page.fill('#api-key', key);
  await page.click('dialog#signin button[type="submit"]');
  await page.waitForSelector('html[data-map="drawn"], html[data-map="failed"]', { timeout: 30_000 });
  const drawnMs = Date.now() - started;
  const state = await page.evaluate((secret) => ({
    keyVisible: document.cookie.includes(secret) || JSON.stringify({ ...localStorage }).includes(secret)
      || JSON.stringify({ ...sessionStorage }).includes(secret) || location.href.includes(secret)
      || (document.getElementById('api-key')?.value ?? '') !== '',
    cookies: document.cookie,
    role: document.documentElement.dataset.role,
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
  }), key);
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
  // An operator's page opens on the incident inbox: the layer switcher is on its own tab.
  await page.click('#tab-layers');
  await page.uncheck('#layer-villages');
  const legendWithoutVillages = await page.evaluate(() => [...document.querySelectorAll('#legend-list li:not([hidden])')].map((l) => l.textContent));
  await page.screenshot({ path: join(outputDir, 'console-en.png') });
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('html[data-map="drawn"]', { timeout: 30_000 });
  const langAfterReload = await page.evaluate(() => document.documentElement.lang);

  return { signInShownMs, drawnMs, ...state, english, legendWithoutVillages, langAfterReload };
});
