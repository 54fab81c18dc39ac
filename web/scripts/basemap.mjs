// Builds the console's offline basemap into public/basemap/ (not committed; `npm run build` runs it):
// - corridor.geojson: the platform's own Yangtze centre line and its named anchors (places), read
//   from crates/waterway/data/yangtze-centreline.geojson, the file the waterway crate embeds;
// - countries.geojson: country outlines from world-atlas (Natural Earth, public domain);
// - rivers.geojson: the river areas of @geo-maps/earth-rivers-500m (OpenStreetMap, ODbL) whose
//   polygons touch the corridor's bounding box, so the browser never loads the whole world.
import { readFileSync, writeFileSync, mkdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { feature } from 'topojson-client';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, '..');
const out = join(web, 'public', 'basemap');
const require = createRequire(import.meta.url);
const centrelinePath = join(web, '..', 'crates', 'waterway', 'data', 'yangtze-centreline.geojson');

/** The corridor's box (lon/lat, WGS-84) with a margin: Chongqing to the Yangtze mouth. */
export const BBOX = [104.5, 27.5, 123.5, 33.5];

const round = (n) => Math.round(n * 1e4) / 1e4;
const touches = (ring) => ring.some(([x, y]) => x >= BBOX[0] && x <= BBOX[2] && y >= BBOX[1] && y <= BBOX[3]);

function corridor() {
  const src = JSON.parse(readFileSync(centrelinePath, 'utf8'));
  const coords = src.geometry.coordinates.map(([x, y]) => [round(x), round(y)]);
  const features = [
    { type: 'Feature', properties: { kind: 'centreline', name: src.properties.name ?? 'Yangtze' },
      geometry: { type: 'LineString', coordinates: coords } },
  ];
  for (const a of src.properties.anchors ?? []) {
    const at = coords[a.vertex];
    if (!at) continue;
    features.push({ type: 'Feature',
      properties: { kind: 'place', id: a.id, name: a.name, name_zh: a.name_zh ?? a.name, km: a.km, datum: a.datum },
      geometry: { type: 'Point', coordinates: at } });
  }
  return { type: 'FeatureCollection', features, attribution: src.properties.attribution };
}

function countries() {
  const topo = require('world-atlas/countries-110m.json');
  const fc = feature(topo, topo.objects.countries);
  fc.features = fc.features.filter((f) => {
    const polys = f.geometry?.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry?.coordinates ?? [];
    return polys.some((p) => p.some((ring) => ring.some(([x, y]) => x > 85 && x < 135 && y > 15 && y < 50)));
  });
  return fc;
}

function rivers() {
  const gc = require('@geo-maps/earth-rivers-500m/map.geo.json');
  const polys = [];
  for (const g of gc.geometries ?? []) {
    const list = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
    for (const p of list) if (p.some(touches)) polys.push(p.map((r) => r.map(([x, y]) => [round(x), round(y)])));
  }
  return { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { kind: 'river' },
    geometry: { type: 'MultiPolygon', coordinates: polys } }] };
}

const target = join(out, 'corridor.geojson');
if (existsSync(target) && statSync(target).mtimeMs > statSync(centrelinePath).mtimeMs && process.argv[2] !== '--force') {
  console.log('basemap: up to date');
} else {
  mkdirSync(out, { recursive: true });
  for (const [name, data] of [['rivers', rivers()], ['countries', countries()], ['corridor', corridor()]]) {
    const text = JSON.stringify(data);
    writeFileSync(join(out, `${name}.geojson`), text);
    console.log(`basemap: ${name}.geojson ${(text.length / 1024).toFixed(0)} KiB`);
  }
}
