import 'maplibre-gl/dist/maplibre-gl.css';
import * as maplibregl from 'maplibre-gl';
import type { StyleSpecification } from 'maplibre-gl';
// MapLibre's worker is its own module file: served from the console's assets (offline).
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import type { Ctx } from '../main';
import { h, link } from '../dom';
import { fleet, type FleetRow } from '../fleet';
import { all, type Facility } from '../api';
import { currentLang, t, word } from '../i18n';
import { cst } from '../time';
import { wgs84ToGcj02 } from '../gcj02';

/**
 * An optional raster tile source, set in localStorage `jianghai.tiles` as
 * `{"url": "https://…/{z}/{x}/{y}.png", "attribution": "…", "gcj02": false}`. With `gcj02: true`
 * (providers drawing in GCJ-02) the platform's WGS-84 overlays are shifted to match.
 */
interface Tiles { url: string; attribution?: string; gcj02?: boolean }
function tiles(): Tiles | null {
  try {
    const t = JSON.parse(localStorage.getItem('jianghai.tiles') ?? 'null');
    return t && typeof t.url === 'string' ? t : null;
  } catch { return null; }
}

const ATTRIBUTION = 'River areas © OpenStreetMap contributors (ODbL), via @geo-maps/earth-rivers-500m · Countries: Natural Earth (world-atlas) · Centre line: Jianghai waterway data';

function style(tile: Tiles | null): StyleSpecification {
  const s: StyleSpecification = {
    version: 8,
    sources: {
      countries: { type: 'geojson', data: '/basemap/countries.geojson' },
      rivers: { type: 'geojson', data: '/basemap/rivers.geojson', attribution: ATTRIBUTION },
      corridor: { type: 'geojson', data: '/basemap/corridor.geojson' },
    },
    layers: [
      { id: 'sea', type: 'background', paint: { 'background-color': '#cfe3ef' } },
      { id: 'land', type: 'fill', source: 'countries', paint: { 'fill-color': '#f3f1ea' } },
      { id: 'borders', type: 'line', source: 'countries', paint: { 'line-color': '#a39b8b', 'line-width': 0.8 } },
      { id: 'rivers', type: 'fill', source: 'rivers', paint: { 'fill-color': '#8fbcd8' } },
      { id: 'centreline', type: 'line', source: 'corridor', filter: ['==', ['get', 'kind'], 'centreline'], paint: { 'line-color': '#0b4f6c', 'line-width': 1.6, 'line-dasharray': [3, 2] } },
      { id: 'places', type: 'circle', source: 'corridor', filter: ['==', ['get', 'kind'], 'place'], paint: { 'circle-radius': 3, 'circle-color': '#fff', 'circle-stroke-color': '#0b4f6c', 'circle-stroke-width': 1.5 } },
    ],
  };
  if (tile) {
    s.sources.tiles = { type: 'raster', tiles: [tile.url], tileSize: 256, attribution: tile.attribution ?? '' };
    s.layers.splice(1, 0, { id: 'tiles', type: 'raster', source: 'tiles' });
  }
  return s;
}

/** Places named on the map (the others are dots), so labels do not pile up at corridor scale. */
const LABELLED = new Set(['chaotianmen', 'guoyuan', 'wanzhou-fuma-bridge', 'three-gorges-dam', 'yichang-zhongshuimen', 'wuhan-bridge', 'jiujiang', 'nanjing-bridge', 'nantong', 'wusongkou']);

function row(r: FleetRow, followed: string | null, onFollow: (voyage: string) => void): HTMLElement {
  const tr = r.tracking?.track;
  const name = r.vessel?.name ?? r.voyage.vessel;
  return h('li', { class: 'vessel-card', 'data-vessel': r.voyage.vessel, 'data-voyage': r.voyage.id },
    h('h3', {}, link(`/vessels/${encodeURIComponent(r.voyage.vessel)}`, name)),
    h('p', { class: 'muted' }, `${t('voyage')} ${r.voyage.id} · ${r.voyage.origin} → ${r.voyage.destination}`),
    tr ? h('button', { class: 'follow', type: 'button', 'aria-pressed': String(followed === r.voyage.id), onclick: () => onFollow(r.voyage.id) }, t('follow')) : null,
    tr ? h('dl', {},
      h('dt', {}, t('state')), h('dd', { class: `state state-${tr.state}` }, word(tr.state)),
      h('dt', {}, t('progress')), h('dd', {}, h('progress', { max: 100, value: tr.percent.toFixed(0), 'aria-label': t('progress') }), ` ${tr.percent.toFixed(0)}% · ${tr.doneKm.toFixed(0)}/${tr.totalKm.toFixed(0)} ${t('km')}`),
      h('dt', {}, t('eta')), h('dd', {}, tr.arrival ? `${cst(tr.arrival.p50)} – ${cst(tr.arrival.p90).slice(11)}` : '—'),
      h('dt', {}, t('openAlerts')), h('dd', { class: r.openAlerts.length ? 'bad' : '' }, String(r.openAlerts.length)))
      : h('p', { class: 'muted' }, `${t('noTrack')} · ${t('openAlerts')}: ${r.openAlerts.length}`));
}

export default async function map(ctx: Ctx) {
  maplibregl.setWorkerUrl(workerUrl);
  const tile = tiles();
  const list = h('ul', { class: 'vessel-list', 'aria-label': t('vessels') });
  const mapEl = h('div', { class: 'map', role: 'region', 'aria-label': t('map') });
  ctx.main.append(h('h1', { class: 'sr' }, t('map')), h('div', { class: 'map-screen' }, h('section', { 'aria-labelledby': 'vessels-title' }, h('h2', { id: 'vessels-title' }, t('vessels')), list), mapEl));
  let m: maplibregl.Map | null = null;
  try {
    m = new maplibregl.Map({ container: mapEl, style: style(tile), bounds: [[106.2, 28.6], [122.2, 32.6]], fitBoundsOptions: { padding: 30 }, attributionControl: { compact: false }, keyboard: true });
    m.addControl(new maplibregl.NavigationControl({ showCompass: false }));
    m.on('load', async () => {
      if (!m) return;
      // The facilities this party may see (terminals, yards), from the API.
      for (const f of await all<Facility>('/facilities').catch(() => [])) {
        if (f.lat == null || f.lon == null) continue;
        const at = tile?.gcj02 ? wgs84ToGcj02(f.lon, f.lat) : [f.lon, f.lat];
        const el = h('span', { class: 'facility-label', title: `${f.name} (${f.kind.replace(/_/g, ' ')})` }, h('span', { class: 'sq', 'aria-hidden': 'true' }), f.name);
        new maplibregl.Marker({ element: el, anchor: 'right', offset: [-6, 0] }).setLngLat(at as [number, number]).addTo(m);
      }
      // Place markers with names as HTML (no glyph server is needed offline).
      const places = await fetch('/basemap/corridor.geojson').then((r) => r.json());
      for (const f of places.features) {
        if (f.properties.kind !== 'place' || !LABELLED.has(f.properties.id)) continue;
        const [x, y] = f.geometry.coordinates;
        const at = tile?.gcj02 ? wgs84ToGcj02(x, y) : [x, y];
        const el = h('span', { class: 'place-label' }, currentLang() === 'zh-CN' ? f.properties.name_zh : f.properties.name);
        new maplibregl.Marker({ element: el, anchor: 'left', offset: [6, 0] }).setLngLat(at as [number, number]).addTo(m);
      }
    });
  } catch (e) {
    mapEl.append(h('p', { class: 'error' }, `Map unavailable (WebGL): ${e instanceof Error ? e.message : e}`));
  }
  const markers = new Map<string, maplibregl.Marker>();
  // Following a vessel keeps the map centred on it as its position refreshes.
  let followed: string | null = null;
  let rows: FleetRow[] = [];
  const centre = () => {
    const tr = rows.find((r) => r.voyage.id === followed)?.tracking?.track;
    if (tr && m) m.easeTo({ center: (tile?.gcj02 ? wgs84ToGcj02(tr.lon, tr.lat) : [tr.lon, tr.lat]) as [number, number], zoom: Math.max(m.getZoom(), 8) });
  };
  const draw = () => list.replaceChildren(...(rows.length ? rows.map((r) => row(r, followed, (v) => {
    followed = followed === v ? null : v;
    draw();
    // Keep keyboard focus on the button just pressed (the list was redrawn).
    list.querySelector<HTMLButtonElement>(`[data-voyage="${CSS.escape(v)}"] button.follow`)?.focus();
    centre();
  })) : [h('li', { class: 'muted' }, t('none'))]));
  const refresh = async () => {
    rows = await fleet();
    if (ctx.signal.aborted) return;
    draw();
    centre();
    for (const r of rows) {
      const tr = r.tracking?.track;
      if (!tr || !m) continue;
      const at = tile?.gcj02 ? wgs84ToGcj02(tr.lon, tr.lat) : [tr.lon, tr.lat];
      let mk = markers.get(r.voyage.id);
      if (!mk) {
        const el = h('a', { class: `vessel-marker${r.openAlerts.length ? ' alerting' : ''}`, href: `/vessels/${encodeURIComponent(r.voyage.vessel)}`, 'data-link': true, title: r.vessel?.name ?? r.voyage.vessel }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', {}, r.vessel?.name ?? r.voyage.vessel));
        mk = new maplibregl.Marker({ element: el }).setLngLat(at as [number, number]).addTo(m);
        markers.set(r.voyage.id, mk);
      } else mk.setLngLat(at as [number, number]);
    }
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch(() => {}), 30_000);
  ctx.signal.addEventListener('abort', () => { clearInterval(timer); m?.remove(); });
}
