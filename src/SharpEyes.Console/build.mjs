// npm run build: type-checks (tsc, in package.json), then writes the console to dist/ for the gateway to serve
// (src/SharpEyes.Gateway copies dist/ beside its binary as console/; Hosting/ConsoleFiles.cs serves it):
//   dist/index.html          the page, naming the files below (served with Cache-Control: no-cache)
//   dist/assets/*-HASH.*     the script, the style sheet and the icon, each named by its
//                            content hash, so the gateway serves everything under assets/ as immutable
// Everything is bundled from npm packages and this folder: the page requests nothing from another origin.
// The page carries no data: regions, key sites, cameras and incidents come from the gateway's API after sign-in.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = join(here, 'dist');
const assets = join(dist, 'assets');

rmSync(dist, { recursive: true, force: true });
const result = await build({
  entryPoints: [join(here, 'src', 'main.ts')],
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'edge109'],
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  // Imported files' URLs are absolute: the page is /, its files are under /assets/.
  publicPath: '/assets',
  // Files, never data: URLs, so the page's CSP needs no data: for scripts or styles.
  loader: { '.svg': 'file', '.png': 'file', '.woff2': 'file', '.woff': 'file' },
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, o]) => o.entryPoint?.endsWith('src/main.ts'));
const [js, { cssBundle: css }] = entry;

// The icon is named in index.html before any script runs: hash it here like esbuild names the rest.
const icon = readFileSync(join(here, 'src', 'icon.svg'));
const iconName = `icon-${createHash('sha256').update(icon).digest('hex').slice(0, 8).toUpperCase()}.svg`;
writeFileSync(join(assets, iconName), icon);

const url = (file) => `/assets/${basename(file)}`;
const page = readFileSync(join(here, 'index.html'), 'utf8')
  .replace('{{js}}', url(js))
  .replace('{{css}}', url(css))
  .replace('{{icon}}', url(iconName));
writeFileSync(join(dist, 'index.html'), page);

const sizes = outputs.map(([file, o]) => `${basename(file)} ${(o.bytes / 1024).toFixed(0)} KiB`).filter((s) => extname(s.split(' ')[0]) !== '.txt');
console.log(`console built into ${dist}: index.html, ${sizes.join(', ')}, ${iconName}`);
