import type { Ctx } from '../main';
import { navigate } from '../main';
import { api, ApiError, type LedgerStatus, type Recorded, type Vehicle } from '../api';
import { h } from '../dom';
import { t, word } from '../i18n';
import { cst } from '../time';

/** The ledger badge: the server verifies the whole hash chain for the parties allowed to ask. */
async function ledgerBadge(): Promise<HTMLElement> {
  try {
    const s = await api<LedgerStatus>('/ledger');
    return s.verified
      ? h('p', { class: 'badge ok', id: 'ledger-badge', 'data-verified': 'true' }, `✓ ${t('ledgerVerified')} · ${s.count} ${t('entries')} · ${t('head')} ${s.head?.slice(0, 12)}…`)
      : h('p', { class: 'badge bad', id: 'ledger-badge', 'data-verified': 'false' }, `✗ ${t('ledgerFailed')}: ${s.problem}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return h('p', { class: 'badge', id: 'ledger-badge', 'data-verified': 'unavailable' }, t('ledgerUnavailable'));
    throw e;
  }
}

const short = (uri: unknown) => (typeof uri === 'string' ? uri.replace(/^.*[/:]/, '') : '');

export default async function vin(ctx: Ctx, vinParam: string) {
  const input = h('input', { id: 'vin-input', name: 'vin', value: vinParam ?? '', maxlength: 17, minlength: 17, required: true, autocomplete: 'off', spellcheck: 'false', pattern: '[A-HJ-NPR-Za-hj-npr-z0-9]{17}' });
  ctx.main.append(h('h1', {}, t('vin')),
    h('form', { class: 'filters', role: 'search', onsubmit: (e: Event) => { e.preventDefault(); navigate(`/vin/${encodeURIComponent(input.value.trim().toUpperCase())}`); } },
      h('label', {}, t('vinLabel'), input), h('button', { type: 'submit' }, t('search'))));
  if (!vinParam) { input.focus(); return; }
  const [vehicle, timeline, badge] = await Promise.all([
    api<Vehicle>(`/vehicles/${encodeURIComponent(vinParam)}`),
    api<Recorded[]>(`/vehicles/${encodeURIComponent(vinParam)}/timeline`),
    ledgerBadge(),
  ]);
  ctx.main.append(
    h('section', { class: 'card', 'aria-labelledby': 'vehicle-title' },
      h('h2', { id: 'vehicle-title' }, vehicle.vin),
      h('dl', {},
        h('dt', {}, t('state')), h('dd', { id: 'vehicle-state' }, word(vehicle.state)),
        h('dt', {}, t('manufacturer')), h('dd', {}, `${vehicle.manufacturer} (${vehicle.modelYear})`),
        h('dt', {}, t('exporter')), h('dd', {}, vehicle.exporter)),
      badge),
    h('h2', {}, t('timeline')),
    h('ol', { class: 'timeline', id: 'timeline' }, timeline.map((r) => {
      const e = r.event as Record<string, unknown>;
      return h('li', {},
        h('strong', {}, word(short(e.bizStep).replace(/^bizStep-/, '')) || String(e.type ?? t('event'))),
        ` · ${cst(String(e.eventTime ?? r.recordTime))}`,
        h('br'),
        h('small', { class: 'muted' }, `${t('where')}: ${short((e.bizLocation as { id?: string })?.id) || short((e.readPoint as { id?: string })?.id) || '—'} · #${r.seq} · ${t('recorded')} ${cst(r.recordTime)} · ${t('hash')} `, h('code', {}, r.hash.slice(0, 16))));
    })));
}
