import type { Ctx } from '../main';
import { api, type Alert } from '../api';
import { h, link } from '../dom';
import { t, word } from '../i18n';
import { cst } from '../time';
import { table } from '../table';

// The customs transit board (转关看板): the declarations the server lets this party read (all for
// customs, an exporter's own, none for a carrier or a port: the server decides), each with its
// state, ship, seals and their states, holds and log. The console offers no action on them.

export interface Seal { number: string; kind: 'mechanical' | 'electronic'; class?: string; device?: string; on: string }
interface Hold { vin: string; kind: string; reason: string; heldAt: string; heldBy: string; releasedAt?: string; releasedBy?: string }
export interface Transit {
  number: string; state: string; holdReason?: string; declaredBy: string; departureCustoms: string; exitCustoms: string;
  carrier: string; vessel: string; voyage: string; route: string; declaredAt: string; deadline: string; vins: string[];
  seals: Seal[]; vehicleHolds: Hold[];
}
export interface LogEntry { seq: number; at: string; organisation: string; action: string; outcome: string; detail: string }
interface Reading { time: string; value: number; unit: string }

/** The latest reading of an e-seal's sensor within the transit's time limit, if this party may read it. */
async function latest(device: string, sensor: string, tr: Transit): Promise<Reading | null> {
  const q = new URLSearchParams({ device, sensor, from: tr.declaredAt, to: tr.deadline, limit: '10000' });
  const page = await api<{ items: Reading[] }>(`/readings?${q}`).catch(() => null);
  const items = page?.items ?? [];
  return items.reduce<Reading | null>((a, r) => (!a || r.time > a.time ? r : a), null);
}

async function sealRows(tr: Transit): Promise<(string | Node)[][]> {
  return Promise.all(tr.seals.map(async (s) => {
    const subject = `seal:${tr.vessel}/${s.number}`;
    const alerts = await api<{ items: Alert[] }>(`/alerts?subject=${encodeURIComponent(subject)}`).catch(() => ({ items: [] as Alert[] }));
    const open = alerts.items.filter((a) => a.state !== 'resolved');
    let state = tr.state === 'closed' ? t('sealVerified') : t('sealApplied');
    let telemetry = '—';
    if (s.kind === 'electronic' && s.device) {
      const [st, battery] = await Promise.all([latest(s.device, 'state', tr), latest(s.device, 'battery', tr)]);
      if (st) state = `${st.value >= 1 ? t('sealOpened') : t('sealSealed')}${tr.state === 'closed' ? ` · ${t('sealVerified')}` : ''}`;
      telemetry = st || battery ? [battery ? `${t('battery')} ${battery.value.toFixed(2)} V` : null, st ? cst(st.time) : null].filter(Boolean).join(' · ') : t('noTelemetry');
    }
    const kind = s.kind === 'mechanical' ? `${t('mechanical')} (ISO 17712 ${s.class ?? ''})` : `${t('electronic')} (${s.device ?? ''})`;
    const alertCell = open.length ? h('span', { class: 'badge bad' }, open.map((a) => `${word(a.severity)}: ${a.title}`).join('; ')) : '—';
    return [s.number, kind, s.on, h('span', { class: 'seal-state', 'data-seal': s.number }, state), telemetry, alertCell];
  }));
}

async function card(tr: Transit, log: LogEntry[]): Promise<HTMLElement> {
  const field = (k: string, v: string | Node) => [h('dt', {}, k), h('dd', {}, v)];
  const seals = await sealRows(tr);
  return h('section', { class: 'card transit', 'data-number': tr.number, 'data-state': tr.state, 'aria-label': `${t('declaration')} ${tr.number}` },
    h('h2', {}, `${t('declaration')} ${tr.number} · `, h('span', { class: `transit-state state-${tr.state}` }, word(`transit:${tr.state}`))),
    tr.holdReason ? h('p', { class: 'error' }, `${t('holdReason')}: ${tr.holdReason}`) : null,
    h('dl', { class: 'facts' },
      field(t('departureCustoms'), tr.departureCustoms), field(t('exitCustoms'), tr.exitCustoms),
      field(t('carrier'), tr.carrier), field(t('ship'), link(`/vessels/${encodeURIComponent(tr.vessel)}`, tr.vessel)),
      field(t('voyage'), tr.voyage), field(t('route'), tr.route),
      field(t('declared'), cst(tr.declaredAt)), field(t('deadline'), cst(tr.deadline)),
      field(t('vehicles'), String(tr.vins.length))),
    table(`${t('seals')} (${tr.seals.length})`, [t('sealNumber'), t('sealKind'), t('sealOn'), t('state'), t('telemetry'), t('alerts')], seals, `seals-${tr.number}`),
    table(`${t('holds')} (${tr.vehicleHolds.length})`, ['VIN', t('holdKind'), t('holdReason'), t('held'), t('released')],
      tr.vehicleHolds.map((x) => [link(`/vin/${x.vin}`, x.vin), x.kind, x.reason, `${cst(x.heldAt)} · ${x.heldBy}`, x.releasedAt ? `${cst(x.releasedAt)} · ${x.releasedBy ?? ''}` : '—']), `holds-${tr.number}`),
    h('details', {}, h('summary', {}, `${t('declarationLog')} (${log.length})`),
      table(t('declarationLog'), [t('at'), t('organisation'), t('action'), t('outcome'), t('detail')],
        log.map((e) => [cst(e.at), e.organisation, e.action, e.outcome === 'refused' ? h('strong', { class: 'refused' }, t('refused')) : t('done'), e.detail]), `log-${tr.number}`)));
}

export default async function customs(ctx: Ctx) {
  const transits = await api<Transit[]>('/customs/transits');
  const logs = await Promise.all(transits.map((tr) => api<LogEntry[]>(`/customs/transits/${encodeURIComponent(tr.number)}/log`).catch(() => [])));
  const kind = ctx.me.organisation.kind;
  ctx.main.append(h('h1', {}, t('transitBoard')));
  if (kind !== 'customs') ctx.main.append(h('p', { class: 'muted', id: 'read-only' }, t('readOnly')));
  if (!transits.length) {
    ctx.main.append(h('p', { class: 'muted', id: 'transits-none' }, t('noTransits')));
    return;
  }
  const counts = new Map<string, number>();
  for (const tr of transits) counts.set(tr.state, (counts.get(tr.state) ?? 0) + 1);
  ctx.main.append(table(t('transits'), [t('declaration'), t('state'), t('ship'), t('vehicles'), t('sealCount'), t('deadline')],
    transits.map((tr) => [tr.number, word(`transit:${tr.state}`), tr.vessel, String(tr.vins.length), String(tr.seals.length), cst(tr.deadline)]), 'transits'));
  ctx.main.append(h('p', { class: 'muted', id: 'transit-counts' }, [...counts].map(([s, n]) => `${word(`transit:${s}`)} ${n}`).join(' · ')));
  const refused = transits.flatMap((tr, i) => logs[i].filter((e) => e.outcome === 'refused').map((e) => ({ ...e, number: tr.number })));
  ctx.main.append(table(`${t('refusedAttempts')} (${refused.length})`, [t('at'), t('declaration'), t('organisation'), t('action'), t('detail')],
    refused.map((e) => [cst(e.at), e.number, e.organisation, e.action, e.detail]), 'refused'));
  for (const [i, tr] of transits.entries()) {
    if (ctx.signal.aborted) return;
    ctx.main.append(await card(tr, logs[i]));
  }
}
