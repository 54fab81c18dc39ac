import type { Ctx } from '../main';
import { all } from '../api';
import { link } from '../dom';
import { h } from '../dom';
import { t, word } from '../i18n';
import { cst } from '../time';
import { table } from '../table';

interface Session { id: string; facility: string; shipment: string; organisation: string; tallyman: string; openedAt: string; state: string; closedAt: string | null; identifications: number }
interface GateIn { id: string; facility: string; vin: string; at: string; truck: string | null; onManifest: boolean }

export default async function tally(ctx: Ctx) {
  const [sessions, gateIns] = await Promise.all([all<Session>('/tally-sessions'), all<GateIn>('/gate-ins', 500)]);
  ctx.main.append(h('h1', {}, t('tally')),
    table(t('sessions'), [t('facility'), t('shipment'), t('state'), t('opened'), t('identifications')],
      sessions.map((s) => [s.facility, s.shipment, `${word(s.state)}${s.closedAt ? ` · ${cst(s.closedAt)}` : ''}`, `${cst(s.openedAt)} · ${s.tallyman}`, String(s.identifications)]), 'tally-sessions'),
    table(`${t('gateIns')} (${gateIns.length})`, [t('at'), 'VIN', t('facility'), t('truck'), t('onManifest')],
      gateIns.map((g) => [cst(g.at), link(`/vin/${g.vin}`, g.vin), g.facility, g.truck ?? '—', g.onManifest ? t('yes') : t('no')]), 'gate-ins'));
}
