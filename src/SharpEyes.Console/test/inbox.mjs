// The incident inbox in a real browser against a real gateway process (tests/SharpEyes.Gateway.Tests/Console/
// InboxPageTests.cs starts it, registers an alarm device and a camera that sees it, and restarts the gateway on the
// same ports when this script stops it). Alarms are published over MQTT by MQTT.js (tests/node's mqtt package), as a
// vendor's device would; the feed is read by Node from GET /api/events with the operator's key as a Bearer token.
//   1. a priority-1 alarm appears in the operator's inbox within 2 s of its publication (measured: PUBLISH sent in
//      Node -> the row in the page's DOM, both on this machine's clock), flashing, the tab flagged and counted, a beep;
//   2. the detail shows the alarm, the key sites and the camera that sees it (its snapshot: "no frame yet");
//      acknowledge (with a note) and close (a reason chosen + text) from the page, and both reach the feed with the
//      operator's key id and the reason;
//   3. an alarm published (and PUBACKed) just before the gateway is stopped with SIGTERM, the banner down within a few
//      seconds, the gateway back on the same ports, an alarm published right after: the banner up again and every
//      incident in the inbox exactly once;
//   4. a planner's inbox has no acknowledge or close control, and a POST forced from the planner's page with its CSRF
//      token is refused 403;
//   5. nothing is requested from another origin (the harness).
// usage: SHARPEYES_OPERATOR_KEY=.. SHARPEYES_PLANNER_KEY=.. SHARPEYES_VENDOR_KEY=.. \
//        node test/inbox.mjs http://127.0.0.1:PORT/ OUTPUT_DIR MQTT_PORT VENDOR_ID DEVICE_ID GATEWAY_PID
// Prints one JSON line: what it saw. Exit code 1 with the reasons on stderr when a check failed.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { args, eventually, requireEnv, run, settled } from './harness.mjs';

const { base, outputDir, rest } = args('SHARPEYES_OPERATOR_KEY=.. SHARPEYES_PLANNER_KEY=.. SHARPEYES_VENDOR_KEY=.. node test/inbox.mjs BASE OUTPUT_DIR MQTT_PORT VENDOR_ID DEVICE_ID GATEWAY_PID');
const [mqttPort, vendorId, deviceId, gatewayPid] = rest;
const operatorKey = requireEnv('SHARPEYES_OPERATOR_KEY');
const plannerKey = requireEnv('SHARPEYES_PLANNER_KEY');
const vendorKey = requireEnv('SHARPEYES_VENDOR_KEY');
// MQTT.js from tests/node (the interop tests' client), not a dependency of the console.
const mqtt = createRequire(new URL('../../../tests/node/package.json', import.meta.url))('mqtt');
const origin = new URL(base).origin;
const runId = Date.now().toString(36);

async function connectMqtt(timeoutMs = 30_000) {
  return eventually('the MQTT listener', async () => {
    try {
      return await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
        username: vendorId, password: vendorKey, protocolVersion: 5, clientId: `inbox-${runId}-${Math.random().toString(36).slice(2, 8)}`,
        reconnectPeriod: 0, connectTimeout: 2000,
      });
    } catch {
      return undefined;
    }
  }, timeoutMs, 200);
}

/** Publishes one alarm at QoS 1 and resolves at its PUBACK (the gateway has committed it). */
async function publish(client, eventId, { priority = 2, method = 5, type = 6, description = eventId } = {}) {
  const alarm = { eventId, occurredAt: new Date().toISOString(), priority, method, type, description };
  const packet = await client.publishAsync(`sharpeyes/v1/alarms/${deviceId}`, JSON.stringify(alarm), { qos: 1 });
  if (packet?.reasonCode) {
    throw new Error(`alarm ${eventId} refused: reason code ${packet.reasonCode} ${packet.properties?.reasonString ?? ''}`);
  }
}

/** The feed as a centre-less client reads it: GET /api/events with a Bearer key, parsed as server-sent events. */
async function openFeed(key) {
  const events = [];
  const abort = new AbortController();
  let ready = false;
  const response = await fetch(`${origin}/api/events`, { headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' }, signal: abort.signal });
  if (!response.ok) {
    throw new Error(`GET /api/events answered ${response.status}`);
  }
  void (async () => {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          return;
        }
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message = {};
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon > 0) {
              message[line.slice(0, colon)] = (message[line.slice(0, colon)] ? `${message[line.slice(0, colon)]}\n` : '') + line.slice(colon + 1).replace(/^ /, '');
            }
          }
          if (message.event === 'ready') {
            ready = true;
          } else if (message.event?.startsWith('FEED_EVENT_KIND_')) {
            events.push(JSON.parse(message.data));
          }
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  await eventually('the feed stream to be ready', () => ready, 10_000);
  return { events, close: () => abort.abort() };
}

/** Resolves in the page with Date.now() when a row showing that alarm is in the inbox and visible. */
const watchRow = (page, eventId) => page.evaluate((id) => {
  window.__rowSeen = new Promise((resolve) => {
    const seen = () => {
      const row = document.querySelector(`#inbox-list [data-last-event-id="${id}"]`);
      if (row && row.getClientRects().length > 0) {
        resolve(Date.now());
        return true;
      }
      return false;
    };
    if (!seen()) {
      const observer = new MutationObserver(() => seen() && observer.disconnect());
      observer.observe(document.body, { subtree: true, childList: true, attributes: true });
    }
  });
}, eventId);

const rowOf = (eventId) => `#inbox-list [data-last-event-id="${eventId}"]`;
const inboxIds = (page) => page.evaluate(() => [...document.querySelectorAll('#inbox-list [data-incident-id]')].map((r) => r.dataset.incidentId));

await run(base, async (browser) => {
  const { expect, problems } = browser;
  const result = {};
  const page = await browser.newPage(operatorKey);
  await page.waitForSelector('html[data-inbox="loaded"][data-live="up"]', { timeout: 30_000 });
  const session = await page.evaluate(() => fetch('/api/session').then((r) => r.json()));
  result.operatorKeyId = session.keyId;
  result.initialTab = await page.evaluate(() => document.querySelector('#tabs button.active')?.id);
  let client = await connectMqtt();

  // 1. A priority-1 alarm, publish -> row.
  const first = `inbox-p1-${runId}`;
  await watchRow(page, first);
  const publishedAt = Date.now();
  await publish(client, first, { priority: 1, description: 'east gate: person climbing the fence' });
  const pubackMs = Date.now() - publishedAt;
  const shownAt = await Promise.race([
    page.evaluate(() => window.__rowSeen),
    new Promise((_, reject) => setTimeout(() => reject(new Error('the priority-1 alarm did not appear in the inbox within 10 s')), 10_000)),
  ]);
  result.latencyMs = shownAt - publishedAt;
  result.pubackMs = pubackMs;
  const urgent = await page.evaluate((selector) => {
    const row = document.querySelector(selector);
    const tab = document.getElementById('tab-inbox');
    return {
      incidentId: row.dataset.incidentId, state: row.dataset.state, priority: row.dataset.priority, flashing: row.classList.contains('inbox-urgent'),
      animation: getComputedStyle(row).animationName, badge: row.querySelector('.inbox-badge')?.textContent, type: row.querySelector('.inbox-type')?.textContent,
      place: row.querySelector('.inbox-place')?.textContent, description: row.querySelector('.inbox-description')?.textContent, when: row.querySelector('.inbox-when')?.textContent, stateText: row.querySelector('.inbox-state')?.textContent,
      count: row.querySelector('.inbox-count')?.textContent, tabFlagged: tab.classList.contains('flagged'), tabLabel: tab.textContent,
      typeFontPx: parseFloat(getComputedStyle(row.querySelector('.inbox-type')).fontSize), bodyFontPx: parseFloat(getComputedStyle(document.body).fontSize),
    };
  }, rowOf(first));
  await eventually('the beep', () => page.evaluate(() => Number(document.documentElement.dataset.inboxBeeps ?? 0) >= 1), 5000);
  result.urgent = { ...urgent, beeps: await page.evaluate(() => Number(document.documentElement.dataset.inboxBeeps)), audio: await page.evaluate(() => document.documentElement.dataset.inboxAudio) };
  await page.screenshot({ path: join(outputDir, 'inbox-p1.png') });

  // 2. The detail: alarms, key sites, the camera that sees it; its snapshot is "no frame yet" (stream checks are off).
  expect({ method: 'GET', path: '/api/v1/streamHealth/cameras/', status: 404 });
  await page.click(rowOf(first));
  await page.waitForSelector(`.inbox-detail[data-incident-id="${urgent.incidentId}"] .inbox-camera-list li`, { timeout: 10_000 });
  await page.click('.inbox-camera-list .inbox-snapshot-button');
  await page.waitForSelector('.inbox-snapshot .inbox-muted', { timeout: 10_000 });
  result.detail = await page.evaluate(() => ({
    title: document.querySelector('#pane-detail h2')?.textContent,
    facts: [...document.querySelectorAll('.inbox-facts dt')].map((dt) => `${dt.textContent}: ${dt.nextElementSibling.textContent}`),
    alarms: [...document.querySelectorAll('.inbox-alarms li')].map((li) => ({ eventId: li.dataset.eventId, text: li.textContent })),
    cameras: [...document.querySelectorAll('.inbox-camera-list li')].map((li) => li.dataset.deviceId),
    snapshot: document.querySelector('.inbox-snapshot .inbox-muted')?.textContent,
    keySites: [...document.querySelectorAll('.inbox-sites li, .inbox-sites p')].map((n) => n.textContent),
    pulses: document.querySelectorAll('.inbox-pulse').length,
  }));
  await settled(page); // the map at rest before the picture; nothing is asserted on it
  await page.screenshot({ path: join(outputDir, 'inbox-detail.png') });

  // Acknowledge from the detail, close from the row; the feed read by Node with the operator's key.
  const feed = await openFeed(operatorKey);
  await page.click('.inbox-detail .inbox-acknowledge');
  await page.fill('.inbox-detail .inbox-acknowledge-form input[name="note"]', 'patrol car 3 on its way');
  await page.click('.inbox-detail .inbox-acknowledge-form .inbox-confirm');
  await page.waitForSelector(`.inbox-detail[data-incident-id="${urgent.incidentId}"] .inbox-state-acknowledged`, { timeout: 10_000 });
  await page.click('#tab-inbox');
  await page.waitForSelector(`${rowOf(first)}[data-state="acknowledged"]`, { timeout: 10_000 });
  result.acknowledged = await page.evaluate((selector) => ({
    state: document.querySelector(selector).querySelector('.inbox-state').textContent,
    flashing: document.querySelector(selector).classList.contains('inbox-urgent'),
    tabFlagged: document.getElementById('tab-inbox').classList.contains('flagged'),
  }), rowOf(first));
  await page.screenshot({ path: join(outputDir, 'inbox-acknowledged.png') });
  // A close without a reason is refused in the page before any request.
  await page.click(`${rowOf(first)} .inbox-close`);
  await page.click(`${rowOf(first)} .inbox-close-form .inbox-confirm`);
  result.closeWithoutReason = await page.textContent(`${rowOf(first)} .inbox-error`);
  await page.check(`${rowOf(first)} .inbox-close-form input[value="reasonFalse"]`);
  await page.fill(`${rowOf(first)} .inbox-close-form input[name="detail"]`, 'patrol found nothing');
  await page.click(`${rowOf(first)} .inbox-close-form .inbox-confirm`);
  await page.waitForSelector(`${rowOf(first)}[data-state="closed"]`, { timeout: 10_000 });
  result.closed = await page.evaluate((selector) => ({
    state: document.querySelector(selector).querySelector('.inbox-state').textContent,
    controls: document.querySelector(selector).querySelectorAll('button').length,
  }), rowOf(first));
  await page.screenshot({ path: join(outputDir, 'inbox-closed.png') });
  const isFor = (kind) => (e) => e.kind === `FEED_EVENT_KIND_${kind}` && e.incident?.incidentId === urgent.incidentId;
  const acknowledgedEvent = await eventually('INCIDENT_ACKNOWLEDGED on the feed', () => feed.events.find(isFor('INCIDENT_ACKNOWLEDGED')));
  const closedEvent = await eventually('INCIDENT_CLOSED on the feed', () => feed.events.find(isFor('INCIDENT_CLOSED')));
  feed.close();
  result.feed = {
    acknowledgedBy: acknowledgedEvent.incident.acknowledgedBy, acknowledgeNote: acknowledgedEvent.incident.acknowledgeNote,
    closeReason: closedEvent.incident.closeReason, order: feed.events.filter((e) => e.incident?.incidentId === urgent.incidentId).map((e) => e.kind),
  };

  // 3. The gateway stops (SIGTERM) just after an alarm's PUBACK and comes back on the same ports (the C# test
  //    restarts it); an alarm right after. Failed requests while it is down are expected, and only then.
  const before = `inbox-before-stop-${runId}`;
  await publish(client, before, { priority: 2, method: 5, type: 3, description: 'parcel left at the bus stop' });
  await client.endAsync();
  expect({ path: '/api/events', failure: true });
  const problemsBefore = problems.length;
  const stoppedAt = Date.now();
  process.kill(Number(gatewayPid), 'SIGTERM');
  await page.waitForSelector('html[data-live="down"]', { timeout: 15_000 });
  result.bannerDownMs = Date.now() - stoppedAt;
  result.bannerDown = await page.evaluate(() => ({ text: document.getElementById('live').textContent, className: document.getElementById('live').className }));
  await page.screenshot({ path: join(outputDir, 'inbox-banner-down.png') });
  client = await connectMqtt(90_000);
  const backAt = Date.now();
  result.downForMs = backAt - stoppedAt;
  const after = `inbox-after-restart-${runId}`;
  await publish(client, after, { priority: 3, method: 6, type: 1, description: 'camera housing opened' });
  await client.endAsync();
  await page.waitForSelector('html[data-live="up"]', { timeout: 30_000 });
  result.bannerUpAfterMs = Date.now() - backAt;
  await page.waitForSelector(rowOf(before), { timeout: 15_000 });
  await page.waitForSelector(rowOf(after), { timeout: 15_000 });
  // The browser's own reports of the refused connections while the gateway was down: expected, not problems.
  const outage = problems.splice(problemsBefore);
  const expectedOutage = /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|\/api\/events/;
  problems.push(...outage.filter((p) => !expectedOutage.test(p)));
  result.outageReports = outage.filter((p) => expectedOutage.test(p));
  result.pageIds = await inboxIds(page);
  result.gatewayIds = await page.evaluate(async () => {
    const ids = [];
    let token = '';
    do {
      const answer = await fetch(`/api/v1/incidents?pageSize=1000&pageToken=${token}`).then((r) => r.json());
      ids.push(...(answer.incidents ?? []).map((i) => i.incidentId));
      token = answer.nextPageToken ?? '';
    } while (token);
    return ids;
  });
  result.rowsAfterRestart = await page.evaluate(() => [...document.querySelectorAll('#inbox-list [data-incident-id]')].map((r) => ({
    id: r.dataset.incidentId, state: r.dataset.state, priority: r.dataset.priority, alarms: r.dataset.alarms, lastEventId: r.dataset.lastEventId,
  })));
  result.liveAfterRestart = await page.evaluate(() => document.getElementById('live').textContent);
  await page.screenshot({ path: join(outputDir, 'inbox-after-restart.png') });
  await page.close();

  // 4. A planner: read-only. The same browser context, without the operator's session cookie.
  await browser.context.clearCookies();
  const planner = await browser.newPage(plannerKey);
  await planner.waitForSelector('html[data-inbox="loaded"]', { timeout: 30_000 });
  await planner.click('#tab-inbox');
  await planner.screenshot({ path: join(outputDir, 'inbox-planner-list.png') });
  const open = (await planner.$$('#inbox-list [data-state="new"]')).length;
  await planner.click('#inbox-list [data-state="new"]');
  await planner.waitForSelector('.inbox-detail .inbox-camera-list, .inbox-detail .inbox-cameras', { timeout: 10_000 });
  result.planner = await planner.evaluate(() => ({
    role: document.documentElement.dataset.role,
    rows: document.querySelectorAll('#inbox-list [data-incident-id]').length,
    controls: document.querySelectorAll('.inbox-acknowledge, .inbox-close, .inbox-actions button').length,
    snapshotButtons: document.querySelectorAll('.inbox-snapshot-button').length,
    readOnly: document.querySelector('.inbox-read-only')?.textContent,
  }));
  result.planner.openRows = open;
  await planner.screenshot({ path: join(outputDir, 'inbox-planner.png') });
  expect({ method: 'POST', path: '/api/v1/incidents/', status: 403 });
  const target = result.rowsAfterRestart.find((r) => r.state !== 'closed').id;
  result.plannerForced = await planner.evaluate(async (id) => {
    const session = await fetch('/api/session').then((r) => r.json());
    const post = async (verb, body) => {
      const response = await fetch(`/api/v1/incidents/${id}:${verb}`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', [session.csrfHeader]: session.csrfToken }, body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };
    return { acknowledge: await post('acknowledge', { note: 'forced' }), close: await post('close', { reason: 'forced' }) };
  }, target);
  result.plannerTarget = target;
  // The same rows in English.
  await planner.click('#language');
  await planner.click('#tab-inbox');
  result.english = await planner.evaluate(() => {
    const row = document.querySelector('#inbox-list [data-incident-id]');
    return {
      tab: document.getElementById('tab-inbox').textContent, badge: row.querySelector('.inbox-badge').textContent, type: row.querySelector('.inbox-type').textContent,
      state: row.querySelector('.inbox-state').textContent, count: row.querySelector('.inbox-count').textContent, when: row.querySelector('.inbox-when').textContent,
      readOnly: document.querySelector('.inbox-read-only')?.textContent, filters: [...document.querySelectorAll('.inbox-filter')].map((b) => b.textContent),
    };
  });
  await planner.screenshot({ path: join(outputDir, 'inbox-planner-en.png') });
  await planner.click('#language');
  await planner.close();
  return result;
});
