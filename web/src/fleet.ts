// What the corridor map and the KPIs share: the caller's voyages with their vessels, tracks and
// open alerts, all as the server returns them for this party.
import { all, api, type Alert, type Tracking, type Vessel, type Voyage } from './api';

export interface FleetRow { voyage: Voyage; vessel: Vessel | undefined; tracking: Tracking | null; vins: Set<string>; openAlerts: Alert[] }

export async function fleet(): Promise<FleetRow[]> {
  const [voyages, vessels, alerts] = await Promise.all([
    all<Voyage>('/voyages'), all<Vessel>('/vessels'), all<Alert>('/alerts?state=open'),
  ]);
  return Promise.all(voyages.map(async (voyage) => {
    const [tracking, plan] = await Promise.all([
      api<Tracking>(`/voyages/${encodeURIComponent(voyage.id)}/tracking`).catch(() => null),
      api<{ plan: { placements: { vin: string }[] } }>(`/voyages/${encodeURIComponent(voyage.id)}/stowage-plan`).catch(() => null),
    ]);
    const vins = new Set((plan?.plan.placements ?? []).map((p) => p.vin));
    const mine = (a: Alert) => a.subjectId === voyage.id || a.subjectId === voyage.vessel || a.subjectId.startsWith(`${voyage.vessel}/`) || (a.subjectKind === 'vehicle' && vins.has(a.subjectId));
    return { voyage, vessel: vessels.find((v) => v.id === voyage.vessel), tracking, vins, openAlerts: alerts.filter(mine) };
  }));
}
