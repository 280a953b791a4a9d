// What every browser test of the console shares: Debian's chromium, headless, driven by playwright-core, a context
// that records every request of the page, its frames and workers, and the problems that fail a test (a request to
// another origin, a failed request, an HTTP error, a page error, a console error, a Content-Security-Policy
// violation), and signing in through the page's form. Keys come from environment variables, never arguments (the
// process list shows arguments).
//   const run = await openBrowser(base);            // base: http://127.0.0.1:PORT/
//   const page = await run.signIn(key);              // a new page, signed in, the map drawn
//   ... checks; run.problems.push('why') for a failed check ...
//   await run.finish(result);                        // prints result as one JSON line; exit 1 on any problem
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Reads the arguments every test takes: the page's URL and the folder for screenshots. */
export function args(usage) {
  const [base, outputDir, ...rest] = process.argv.slice(2);
  if (!base || !outputDir) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  mkdirSync(outputDir, { recursive: true });
  return { base, outputDir, rest };
}

export function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return value;
}

// allowedOrigins: other origins the page may load from in this test (an intranet tile server the test started).
export async function openBrowser(base, { locale = 'zh-CN', viewport = { width: 1920, height: 1080 }, allowedOrigins = [] } = {}) {
  const origin = new URL(base).origin;
  const problems = [];
  const requests = [];
  // Refusals a test expects (e.g. 401 before sign-in, 403 for a planner's acknowledge): method + path prefix + status.
  const expected = [];
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true });
  const context = await browser.newContext({ viewport, locale, serviceWorkers: 'block' });
  context.on('request', (request) => {
    const url = request.url();
    requests.push(url);
    if (!url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin && !allowedOrigins.includes(new URL(url).origin)) {
      problems.push(`request to another origin: ${request.method()} ${url}`);
    }
  });
  context.on('requestfailed', (request) => {
    // Closing a page or reloading aborts the open event stream: that is the browser closing it, not a failure.
    if (new URL(request.url()).pathname === '/api/events' && request.failure()?.errorText === 'net::ERR_ABORTED') {
      return;
    }
    if (expected.some((e) => e.failure && new URL(request.url()).pathname.startsWith(e.path))) {
      return;
    }
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
  });
  const isExpected = (method, url, status) => {
    const path = new URL(url).pathname;
    return expected.some((e) => e.status === status && (e.method === undefined || e.method === method) && path.startsWith(e.path));
  };
  context.on('response', (response) => {
    if (response.status() >= 400 && !isExpected(response.request().method(), response.url(), response.status())) {
      problems.push(`${response.status()} for ${response.request().method()} ${response.url()}`);
    }
  });
  const watch = (page) => {
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // Chromium logs every refused request as a console error; the response listener judges those.
      if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of \d+/.test(message.text())) {
        problems.push(`console error: ${message.text()}`);
      }
    });
  };
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  // GET /api/session before signing in answers 401: expected on every page.
  expected.push({ method: 'GET', path: '/api/session', status: 401 });

  return {
    origin, browser, context, problems, requests,
    /** Records a page's errors and console errors as problems (newPage does it by itself). */
    watch,
    /** Lets a refusal through: { method?, path (prefix), status } or { path, failure: true }. */
    expect(refusal) {
      expected.push(refusal);
    },
    /** A new page of the console; with a key, signed in through the form and waited until the map is drawn. */
    async newPage(key, { waitDrawn = true } = {}) {
      const page = await context.newPage();
      watch(page);
      await page.goto(base, { waitUntil: 'load' });
      if (key) {
        await page.waitForSelector('dialog#signin[open], html[data-session="signed-in"]', { timeout: 30_000 });
        if (await page.$('dialog#signin[open]')) {
          await page.fill('#api-key', key);
          await page.click('dialog#signin button[type="submit"]');
        }
      }
      if (waitDrawn) {
        await page.waitForSelector('html[data-map="drawn"], html[data-map="failed"]', { timeout: 60_000 });
        const map = await page.evaluate(() => document.documentElement.dataset.map);
        if (map !== 'drawn') {
          throw new Error(`the map did not draw: ${await page.textContent('#status')}`);
        }
      }
      return page;
    },
    /** Prints the result, closes the browser, exits 1 with the reasons when a check failed. */
    async finish(result) {
      await browser.close();
      console.log(JSON.stringify({ ...result, requests }));
      if (problems.length > 0) {
        console.error(problems.join('\n'));
        process.exit(1);
      }
    },
  };
}

/** Runs a test body; an exception is a problem, the browser is closed either way. */
export async function run(base, body, options) {
  const browser = await openBrowser(base, options);
  let result = {};
  try {
    result = (await body(browser)) ?? {};
  } catch (e) {
    browser.problems.push(`check failed: ${e.stack ?? e}`);
  }
  await browser.finish(result);
}

/** Polls a condition in Node with a deadline (for checks outside the page: the feed, the API). */
export async function eventually(what, condition, timeoutMs = 10_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Waits until the map stops moving (a fly-to, a zoom animation, the canvas's redraw after a layer change): ten
 * animation frames in a row in which neither the map pane nor Leaflet's zoom proxy moved. For screenshots.
 */
export async function settled(page, timeoutMs = 10_000) {
  await page.waitForFunction(() => new Promise((resolve) => {
    const read = () => `${document.querySelector('.leaflet-map-pane')?.style.transform}|${document.querySelector('.leaflet-proxy')?.style.transform}`;
    let last = read();
    let still = 0;
    const tick = () => {
      const now = read();
      still = now === last ? still + 1 : 0;
      last = now;
      if (still >= 10) {
        resolve(true);
      } else {
        requestAnimationFrame(tick);
      }
    };
    requestAnimationFrame(tick);
  }), null, { timeout: timeoutMs });
}
