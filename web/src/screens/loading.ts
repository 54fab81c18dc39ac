import type { Ctx } from '../main';
import { all, api, type Voyage } from '../api';
import { h, link } from '../dom';
import { t } from '../i18n';
import { table } from '../table';

interface Plan { voyage: string; vessel: string; version: number; plan: { placements: { vin: string; load_seq: number; slot: { deck: string; lane: string } }[]; locked_lanes: string[] } }

export default async function loading(ctx: Ctx) {
  const voyages = await all<Voyage>('/voyages');
  ctx.main.append(h('h1', {}, t('loadingScreen')));
  for (const v of voyages) {
    const plan = await api<Plan>(`/voyages/${encodeURIComponent(v.id)}/stowage-plan`).catch(() => null);
    const sec = h('section', { class: 'card' }, h('h2', {}, `${t('voyage')} ${v.id} · `, link(`/vessels/${encodeURIComponent(v.vessel)}`, v.vessel)));
    if (!plan) sec.append(h('p', { class: 'muted' }, t('noPlan')));
    else {
      const byDeck = new Map<string, number>();
      for (const p of plan.plan.placements) byDeck.set(p.slot.deck, (byDeck.get(p.slot.deck) ?? 0) + 1);
      sec.append(h('p', {}, `${t('stowagePlan')} · ${t('version')} ${plan.version} · ${plan.plan.placements.length} ${t('placements')}`),
        table(t('decks'), [t('deck'), t('cars')], [...byDeck].sort().map(([d, n]) => [d, String(n)])),
        h('details', {}, h('summary', {}, t('placements')),
          table(t('placements'), ['#', 'VIN', t('deck')], plan.plan.placements.slice().sort((a, b) => a.load_seq - b.load_seq).map((p) => [String(p.load_seq), link(`/vin/${p.vin}`, p.vin), `${p.slot.deck} / ${p.slot.lane}`]))));
    }
    ctx.main.append(sec);
  }
  if (!voyages.length) ctx.main.append(h('p', { class: 'muted' }, t('none')));
}
