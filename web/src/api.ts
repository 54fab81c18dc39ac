// The API client: the bearer token lives in sessionStorage; every answer is the server's decision
// (the console never filters what a party may see).
export class ApiError extends Error {
  constructor(public status: number, public title: string, public detail: string) {
    super(detail || title);
  }
}

const KEY = 'jianghai.token';
export const session = {
  get token(): string | null { return sessionStorage.getItem(KEY); },
  set(token: string) { sessionStorage.setItem(KEY, token); },
  clear() { sessionStorage.removeItem(KEY); },
};

let onUnauthorized = () => {};
export function whenUnauthorized(f: () => void) { onUnauthorized = f; }

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const token = session.token;
  if (token) headers.set('authorization', `Bearer ${token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  const res = await fetch(`/api/v1${path}`, { ...init, headers, body });
  if (!res.ok) {
    let title = res.statusText, detail = '';
    try {
      const p = await res.json();
      title = p.title ?? title;
      detail = p.detail ?? '';
    } catch { /* not a problem document */ }
    if (res.status === 401 && !path.startsWith('/auth/')) onUnauthorized();
    throw new ApiError(res.status, title, detail);
  }
  if (res.status === 204) return undefined as T;
  return res.json() as Promise<T>;
}

/** All pages of a cursor-paginated listing (up to `max` items). */
export async function all<T>(path: string, max = 2000): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page: { items: T[]; next?: string } = await api(`${path}${sep}limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    out.push(...page.items);
    after = page.next;
  } while (after && out.length < max);
  return out;
}

export interface Me { user: { username: string; organisation: string; role: string }; organisation: { id: string; name: string; kind: string } }
export interface Vessel { id: string; name: string; kind: string; carrier: string; mmsi: number | null; imo: number | null }
export interface Voyage { id: string; vessel: string; origin: string; destination: string }
export interface Track {
  at: string; state: string; stateSince: string; lat: number; lon: number; km: number; sogKn: number;
  totalKm: number; doneKm: number; toGoKm: number; percent: number; nextPlace: string | null;
  arrival: { p50: string; p90: string } | null;
}
export interface Tracking { voyage: string; vessel: string; origin: string; destination: string; track: Track | null }
export interface Alert {
  id: string; rule: string; subject: string; subjectKind: string; subjectId: string; source: string;
  severity: string; state: string; title: string; detail: string; openedAt: string; lastSeen: string; count: number;
  acknowledgedAt: string | null; acknowledgedBy: string | null; resolvedAt: string | null; resolvedBy: string | null;
  resolution: string | null; assignee: string | null; escalation: number;
}
export interface Vehicle { vin: string; state: string; heldFrom: string | null; exporter: string; manufacturer: string; modelYear: number; lastSeq: number; updatedAt: string }
export interface Recorded { seq: number; recordTime: string; hash: string; event: Record<string, unknown> }
export interface LedgerStatus { verified: boolean; count: number | null; head: string | null; problem: string | null }
export interface Facility { id: string; name: string; kind: string; operator: string; lat: number | null; lon: number | null }
