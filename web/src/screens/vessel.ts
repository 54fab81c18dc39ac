import type { Ctx } from '../main';
import { all, api, ApiError, type Alert, type Tracking, type Vessel, type Voyage } from '../api';
import { h, link, svg } from '../dom';
import { t, word } from '../i18n';
import { cst } from '../time';

interface Lane { id: string; fore_x_mm: number; length_mm: number; width_mm: number; y_mm: number }
interface Deck { id: string; name: string; level: number; lanes: Lane[] }
interface Placement { vin: string; load_seq: number; position_mm: number; slot: { deck: string; lane: string } }
interface Sensor { device: string; sensor: string; measurement: string; unit: string; subject: string; name: string }

const CAR_MM = 4700;

function deckView(deck: Deck, placed: Placement[], beam: number): HTMLElement {
  const fore = Math.max(...deck.lanes.map((l) => l.fore_x_mm));
  const aft = Math.min(...deck.lanes.map((l) => l.fore_x_mm - l.length_mm));
  const w = (fore - aft) / 100, hgt = beam / 100;
  const g = svg('svg', { viewBox: `0 0 ${w} ${hgt}`, class: 'deck', role: 'img', 'aria-label': `${t('deck')} ${deck.id}: ${placed.length} ${t('cars')}` });
  g.append(svg('rect', { x: 0, y: 0, width: w, height: hgt, rx: 20, class: 'hull' }));
  for (const l of deck.lanes) {
    const y = (beam / 2 + l.y_mm - l.width_mm / 2) / 100;
    const x = (fore - l.fore_x_mm) / 100;
    g.append(svg('rect', { x, y, width: l.length_mm / 100, height: l.width_mm / 100, class: 'lane' }));
    for (const p of placed.filter((q) => q.slot.lane === l.id)) {
      const car = svg('rect', { x: x + p.position_mm / 100, y: y + 2, width: CAR_MM / 100, height: l.width_mm / 100 - 4, rx: 3, class: 'car' });
      car.append(svg('title', {}, `${p.vin} · #${p.load_seq}`));
      g.append(car);
    }
  }
  // The same cars as a list, for keyboards and screen readers.
  const cars = placed.length
    ? h('details', {}, h('summary', {}, `${deck.id}: ${placed.length} ${t('cars')}`),
      h('ul', { class: 'deck-vins' }, [...placed].sort((a, b) => a.slot.lane.localeCompare(b.slot.lane) || a.position_mm - b.position_mm)
        .map((p) => h('li', {}, link(`/vin/${encodeURIComponent(p.vin)}`, p.vin), ` ${p.slot.lane}`))))
    : null;
  return h('figure', { class: 'deck-fig' }, h('figcaption', {}, `${deck.id} · ${deck.name} · ${placed.length} ${t('cars')}`), g as unknown as HTMLElement, cars);
}

export default async function vessel(ctx: Ctx, id: string) {
  const vessels = await all<Vessel>('/vessels');
  const v = vessels.find((x) => x.id === id);
  if (!v) throw new ApiError(404, 'Not Found', '');
  const voyages = (await all<Voyage>('/voyages')).filter((x) => x.vessel === id);
  ctx.main.append(h('h1', { id: 'vessel-name' }, v.name), h('p', { class: 'muted' }, `${v.id} · ${v.kind.replace(/_/g, ' ')} · MMSI ${v.mmsi ?? '—'}${v.imo ? ` · IMO ${v.imo}` : ''}`));
  const trackBox = h('section', { class: 'card', 'aria-live': 'polite', id: 'vessel-track' });
  ctx.main.append(trackBox);
  const showTrack = async () => {
    const parts: HTMLElement[] = [];
    for (const voy of voyages) {
      const tr = await api<Tracking>(`/voyages/${encodeURIComponent(voy.id)}/tracking`).catch(() => null);
      const k = tr?.track;
      parts.push(h('h2', {}, `${t('voyage')} ${voy.id}`), k ? h('dl', {},
        h('dt', {}, t('state')), h('dd', { class: 'state' }, `${word(k.state)} (${cst(k.stateSince)})`),
        h('dt', {}, t('progress')), h('dd', {}, h('progress', { max: 100, value: k.percent.toFixed(0), 'aria-label': t('progress') }), ` ${k.percent.toFixed(0)}% · ${k.toGoKm.toFixed(0)} ${t('km')} →`),
        h('dt', {}, t('position')), h('dd', {}, `${k.lat.toFixed(4)}, ${k.lon.toFixed(4)} · km ${k.km.toFixed(1)} · ${k.sogKn.toFixed(1)} kn · ${cst(k.at)}`),
        h('dt', {}, t('eta')), h('dd', {}, k.arrival ? `${cst(k.arrival.p50)} – ${cst(k.arrival.p90)}` : '—')) : h('p', { class: 'muted' }, t('noTrack')));
    }
    if (!ctx.signal.aborted) trackBox.replaceChildren(...parts);
  };
  await showTrack();
  // Following: the track refreshes while the screen is open.
  const timer = setInterval(() => void showTrack().catch(() => {}), 15_000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer));

  const plan = await api<{ deckPlan: { beam_mm: number; decks: Deck[] } }>(`/vessels/${encodeURIComponent(id)}/deck-plan`).catch(() => null);
  let placements: Placement[] = [];
  for (const voy of voyages) {
    const s = await api<{ plan: { placements: Placement[] } }>(`/voyages/${encodeURIComponent(voy.id)}/stowage-plan`).catch(() => null);
    if (s) { placements = s.plan.placements; break; }
  }
  ctx.main.append(h('h2', {}, t('decks')), plan
    ? h('div', { class: 'decks' }, [...plan.deckPlan.decks].sort((a, b) => b.level - a.level).map((d) => deckView(d, placements.filter((p) => p.slot.deck === d.id), plan.deckPlan.beam_mm)))
    : h('p', { class: 'muted' }, t('none')));

  // Sensors on its decks and on the cars it carries.
  const vins = new Set(placements.map((p) => p.vin));
  const sensors = (await all<Sensor>('/sensors')).filter((s) => s.subject.startsWith(`deck:${id}/`) || (s.subject.startsWith('vehicle:') && vins.has(s.subject.slice(8))));
  const charts = h('div', { class: 'charts' });
  ctx.main.append(h('h2', {}, t('sensors')), sensors.length ? charts : h('p', { class: 'muted' }, t('none')));
  if (sensors.length) {
    const { chart } = await import('../charts');
    // The voyage's window (the API's default is the last 24 hours): hourly rollups from two days
    // before its first move to a day after its last state change.
    const states = voyages.length ? await api<{ items: { at: string }[] }>(`/voyages/${encodeURIComponent(voyages[0].id)}/states`).then((r) => r.items).catch(() => []) : [];
    const day = 86_400_000, now = Date.now();
    const from = new Date(states.length ? new Date(states[0].at).getTime() - 2 * day : now - 7 * day).toISOString();
    const to = new Date(Math.min(now, states.length ? new Date(states[states.length - 1].at).getTime() + day : now)).toISOString();
    for (const s of sensors) {
      const q = `device=${encodeURIComponent(s.device)}&sensor=${encodeURIComponent(s.sensor)}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
      type Rollup = { buckets: { bucket: string; min: number; max: number; mean: number }[] };
      let rollup = await api<Rollup>(`/readings/rollups?${q}&resolution=1h`).catch(() => null);
      if (rollup && rollup.buckets.length < 24) {
        // A short series: minute buckets around it show its shape.
        const first = rollup.buckets[0]?.bucket, last = rollup.buckets[rollup.buckets.length - 1]?.bucket;
        if (first && last) {
          const q1 = `device=${encodeURIComponent(s.device)}&sensor=${encodeURIComponent(s.sensor)}&from=${encodeURIComponent(first)}&to=${encodeURIComponent(new Date(new Date(last).getTime() + 3_600_000).toISOString())}`;
          rollup = (await api<Rollup>(`/readings/rollups?${q1}&resolution=1m`).catch(() => null)) ?? rollup;
        }
      }
      const el = h('div', { class: 'chart', role: 'img', 'aria-label': `${s.name} (${s.subject})` });
      charts.append(h('figure', {}, h('figcaption', {}, `${s.name} · ${s.subject} · ${s.measurement} (${s.unit})`), el));
      chart(el, {
        grid: { left: 48, right: 16, top: 16, bottom: 48 },
        tooltip: { trigger: 'axis' },
        xAxis: { type: 'time', axisLabel: { hideOverlap: true, formatter: (v: number) => cst(new Date(v).toISOString()).slice(5, 16) } },
        yAxis: { type: 'value', scale: true },
        legend: { bottom: 0, textStyle: { fontSize: 11 } },
        series: (['max', 'mean', 'min'] as const).map((k, i) => ({
          name: k, type: 'line', showSymbol: false, data: (rollup?.buckets ?? []).map((b) => [b.bucket, b[k]]),
          lineStyle: { color: ['#a4161a', '#0b4f6c', '#2f7ea6'][i], width: k === 'mean' ? 2 : 1 }, itemStyle: { color: ['#a4161a', '#0b4f6c', '#2f7ea6'][i] },
        })),
      }, ctx.signal);
    }
  }
  const alerts = (await all<Alert>('/alerts?state=open')).filter((a) => a.subjectId.startsWith(`${id}/`) || a.subjectId === id || vins.has(a.subjectId));
  ctx.main.append(h('h2', {}, t('openAlerts')), alerts.length
    ? h('ul', {}, alerts.map((a) => h('li', {}, h('span', { class: `sev sev-${a.severity}` }, word(a.severity)), ' ', a.title, ' · ', link(a.subjectKind === 'vehicle' ? `/vin/${a.subjectId}` : '/alerts', a.subject))))
    : h('p', { class: 'muted' }, t('none')),
    h('h2', {}, t('seals')), h('p', { class: 'muted' }, t('sealsNone')));
}
