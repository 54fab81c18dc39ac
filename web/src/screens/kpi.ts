import type { Ctx } from '../main';
import { all, api, type Alert, type Vehicle, type Voyage } from '../api';
import { h } from '../dom';
import { t, word } from '../i18n';
import { hours } from '../time';
import type { LogEntry, Transit } from './customs';

interface StateChange { at: string; state: string; km: number }
interface GateIn { vin: string; at: string }
interface Savings { currency: string; cars: number; saved: number }

const IN_TRANSIT = new Set(['loaded', 'departed', 'arrived', 'transit_closed', 'transshipped']);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

function tile(label: string, value: string, id: string) {
  return h('div', { class: 'kpi', id }, h('span', { class: `kpi-value${value === t('notAvailable') ? ' na' : ''}` }, value), h('span', { class: 'kpi-label' }, label));
}

export default async function kpi(ctx: Ctx) {
  const to = new Date(Date.now() + 86_400_000).toISOString();
  const [vehicles, alerts, voyages, gateIns, saved, declarations] = await Promise.all([
    all<Vehicle>('/vehicles', 5000), all<Alert>('/alerts'), all<Voyage>('/voyages'), all<GateIn>('/gate-ins', 5000).catch(() => []),
    api<Savings>(`/customs/savings?from=2000-01-01T00:00:00Z&to=${encodeURIComponent(to)}`).catch(() => null),
    api<Transit[]>('/customs/transits').catch(() => [] as Transit[]),
  ]);
  // Customs transit time: from the declaration to its close (the log's close entry).
  const customsTimes: number[] = [];
  for (const d of declarations.filter((x) => x.state === 'closed')) {
    const log = await api<LogEntry[]>(`/customs/transits/${encodeURIComponent(d.number)}/log`).catch(() => []);
    const closed = log.find((e) => e.action === 'close' && e.outcome === 'done');
    if (closed) customsTimes.push(hours(d.declaredAt, closed.at));
  }
  // River transit: first departure (under way) to the berth at the destination.
  const transits: number[] = [];
  const dwells: number[] = [];
  const gateAt = new Map(gateIns.map((g) => [g.vin, g.at]));
  for (const v of voyages) {
    const states = await api<{ items: StateChange[] }>(`/voyages/${encodeURIComponent(v.id)}/states`).catch(() => null);
    const items = states?.items ?? [];
    const start = items.find((s) => s.state === 'under_way');
    const end = [...items].reverse().find((s) => s.state === 'berthed');
    if (start && end && end.at > start.at) transits.push(hours(start.at, end.at));
    // Yard dwell: from each car's gate-in to its voyage's departure.
    const plan = start ? await api<{ plan: { placements: { vin: string }[] } }>(`/voyages/${encodeURIComponent(v.id)}/stowage-plan`).catch(() => null) : null;
    for (const p of plan?.plan.placements ?? []) {
      const g = gateAt.get(p.vin);
      if (g && start && start.at > g) dwells.push(hours(g, start.at));
    }
  }
  const byState = new Map<string, number>();
  for (const v of vehicles) byState.set(v.state, (byState.get(v.state) ?? 0) + 1);
  const openAlerts = alerts.filter((a) => a.state === 'open').length;
  const critical = alerts.filter((a) => a.severity === 'critical').length;
  const dwell = median(dwells);
  ctx.main.append(h('h1', {}, t('kpi')), h('div', { class: 'kpis' },
    tile(t('carsInTransit'), String(vehicles.filter((v) => IN_TRANSIT.has(v.state)).length), 'kpi-transit'),
    tile(t('transitTime'), transits.length ? `${median(transits).toFixed(0)} ${t('hoursShort')}` : '—', 'kpi-transit-time'),
    tile(t('dwell'), Number.isNaN(dwell) ? t('notAvailable') : `${dwell.toFixed(0)} ${t('hoursShort')}`, 'kpi-dwell'),
    tile(t('alertCounts'), `${alerts.length} · ${word('open')} ${openAlerts} · ${word('critical')} ${critical}`, 'kpi-alerts'),
    tile(t('customsTransitTime'), customsTimes.length ? `${median(customsTimes).toFixed(0)} ${t('hoursShort')}` : '—', 'kpi-customs-time'),
    tile(t('savings'), saved && saved.cars > 0 ? `${saved.saved.toLocaleString('en')} ${saved.currency} · ${saved.cars} ${t('cars')}` : '—', 'kpi-savings')));
  const el = h('div', { class: 'chart tall', role: 'img', 'aria-label': t('vehiclesByState') });
  ctx.main.append(h('h2', {}, t('vehiclesByState')), el);
  const { chart } = await import('../charts');
  const entries = [...byState].sort((a, b) => b[1] - a[1]);
  chart(el, {
    grid: { left: 120, right: 24, top: 8, bottom: 24 }, tooltip: {},
    xAxis: { type: 'value' }, yAxis: { type: 'category', data: entries.map(([s]) => word(s)) },
    series: [{ type: 'bar', data: entries.map(([, n]) => n), itemStyle: { color: '#0b4f6c' } }],
  }, ctx.signal);
}
