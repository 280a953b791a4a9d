// Writes the console section of bench/results/latest.md from console-bench.mjs's JSON files (bench/run.sh console):
//   node console-report.mjs OUT.md demo.json county.json [context...]
// Replaces the section if the file has one, appends it otherwise.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [out, demoFile, countyFile, ...context] = process.argv.slice(2);
const demo = JSON.parse(readFileSync(demoFile, 'utf8'));
const county = JSON.parse(readFileSync(countyFile, 'utf8'));
const span = ([lo, hi], unit = '') => (lo === hi ? `${lo}${unit}` : `${lo}–${hi}${unit}`);
const row = (name, r) => `| ${name} | ${r.runs.length} | ${Math.max(...r.runs.map((x) => x.cameras))} | ${span(r.drawn, ' ms')} | ${span(r.heapMiB, ' MiB')} | ${span(r.moveP50, ' ms')} | ${r.runs.reduce((n, x) => n + x.errors, 0)} |`;
const lines = [
  '## Console page',
  '',
  'The real console served by the Release gateway, in Debian\'s chromium, headless, no GPU, 1920 × 1080 (bench/console/console-bench.mjs). ' +
    '**drawn**: navigation start to every view\'s data read and drawn (signed in beforehand); **heap**: JS heap in use after a forced GC, once drawn; ' +
    '**move**: median of 10 pans and zooms to the next two frames. Ranges over the runs.',
  '',
  '| county | runs | cameras | drawn | heap | move (p50) | page errors |',
  '|---|---|---|---|---|---|---|',
  row('demo (高邑县: 220 regions, 40 key sites)', demo),
  row('synthetic (2,000 grids, 5,000 key sites, 20,000 cameras)', county),
  '',
];
if (demo.latency) {
  const l = demo.latency;
  lines.push(`Alarm to page: ${l.count} alarms published over MQTT (QoS 1) one at a time on the demo county, each timed from publish to the ` +
    `operator's inbox showing it: **p50 ${l.p50} ms, p99 ${l.p99} ms**, max ${l.max} ms.`, '');
}
if (context.length > 0) {
  lines.push(`Context: ${context.join('; ')}.`, '');
}
const section = lines.join('\n');
let text = existsSync(out) ? readFileSync(out, 'utf8') : '';
const start = text.indexOf('## Console page');
if (start >= 0) {
  const next = text.indexOf('\n## ', start + 1);
  text = text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : '');
} else {
  text = `${text.trimEnd()}\n\n${section}`;
}
writeFileSync(out, text);
console.log(section);
