// An independent client of the gateway's GET /api/events: Node's own EventSource (undici's implementation of the
// WHATWG standard; node --experimental-eventsource), which parses the stream and reconnects by itself with
// Last-Event-ID, as a browser's does. An EventSource cannot set headers, so it talks to a small forwarding proxy that
// adds the session cookie a browser would send; the proxy's target can be changed on stdin ("target <url>"), so the
// test can restart the gateway on another port while the EventSource keeps its URL.
//
// usage: node --experimental-eventsource eventsource-console.mjs <gateway url> <cookie header> <path and query>
// stdout, one JSON object per line:
//   {"proxy": port}                                    the proxy listens
//   {"request": path, "lastEventId": id|null}          the EventSource (re)connected through the proxy
//   {"open": true} / {"error": readyState}              the EventSource's own open and error events
//   {"event": name, "id": lastEventId, "data": {...}}  a server-sent event (data parsed as JSON)
import http from 'node:http';
import readline from 'node:readline';

const [targetArg, cookie, path] = process.argv.slice(2);
let target = new URL(targetArg);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const proxy = http.createServer((req, res) => {
  say({ request: req.url, lastEventId: req.headers['last-event-id'] ?? null });
  const headers = { ...req.headers, host: target.host, cookie };
  const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  // The gateway is down: break the connection (a network error, which an EventSource retries; an HTTP error it would not).
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, value] = line.trim().split(/\s+/);
  if (command === 'target') {
    target = new URL(value);
  } else if (command === 'close') {
    source.close();
    proxy.close();
    process.exit(0);
  }
});

await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
say({ proxy: proxy.address().port });

const kinds = [
  'INCIDENT_OPENED', 'INCIDENT_UPDATED', 'INCIDENT_CLOSED', 'DEVICE_REGISTERED', 'DEVICE_ONLINE', 'DEVICE_OFFLINE',
  'DEVICE_DEREGISTERED', 'COVERAGE_GAP_OPENED', 'COVERAGE_GAP_CLOSED', 'CAMERA_FAULTY', 'CAMERA_REPAIRED',
  'INCIDENT_ACKNOWLEDGED',
].map((k) => 'FEED_EVENT_KIND_' + k);
const source = new EventSource(`http://127.0.0.1:${proxy.address().port}${path}`);
source.onopen = () => say({ open: true });
source.onerror = () => say({ error: source.readyState });
for (const name of ['ready', 'heartbeat', 'end', ...kinds]) {
  source.addEventListener(name, (e) => say({ event: e.type, id: e.lastEventId, data: JSON.parse(e.data) }));
}
