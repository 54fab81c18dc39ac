// Measures the first screen: index.html, the entry chunk with its static imports, the map screen
// (the first screen after login) and the basemap it loads, gzipped. Fails above 1 MB.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'));
const files = new Set(['index.html', 'basemap/countries.geojson', 'basemap/rivers.geojson', 'basemap/corridor.geojson', 'favicon.svg']);
const walk = (key) => {
  const c = manifest[key];
  if (!c || files.has(c.file)) return;
  files.add(c.file);
  for (const css of c.css ?? []) files.add(css);
  for (const i of c.imports ?? []) walk(i);
};
walk('index.html');
walk('src/screens/map.ts');
// MapLibre's worker, loaded by the map screen.
for (const f of readdirSync(join(dist, 'assets'))) if (f.startsWith('maplibre-gl-worker')) files.add(`assets/${f}`);
let total = 0;
const lines = [];
for (const f of files) {
  const gz = gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
  total += gz;
  lines.push(`${(gz / 1024).toFixed(1).padStart(8)} KiB  ${f}`);
}
const all = readdirSync(join(dist, 'assets')).length;
console.log(`first screen (login + corridor map), gzipped:\n${lines.join('\n')}\n${(total / 1024).toFixed(1).padStart(8)} KiB  total (limit 1024 KiB; ${all} files in assets/)`);
writeFileSync(join(dist, 'first-screen.json'), JSON.stringify({ gzipBytes: total, files: [...files] }, null, 1));
if (total > 1024 * 1024) { console.error('FAIL: the first screen is over 1 MB gzipped'); process.exit(1); }
