import type { Ctx } from '../main';
import { all, api, type Alert } from '../api';
import { h, link } from '../dom';
import { t, word } from '../i18n';
import { follow } from '../sse';
import { cst } from '../time';

function subjectLink(a: Alert): Node {
  if (a.subjectKind === 'vehicle') return link(`/vin/${encodeURIComponent(a.subjectId)}`, a.subject);
  if (a.subjectKind === 'deck' || a.subjectKind === 'vessel') return link(`/vessels/${encodeURIComponent(a.subjectId.split('/')[0])}`, a.subject);
  if (a.subjectKind === 'voyage') return link('/', a.subject);
  return document.createTextNode(a.subject);
}

export default async function alerts(ctx: Ctx) {
  const params = new URLSearchParams(location.search);
  const state = h('select', { id: 'f-state', name: 'state' }, ['', 'open', 'acknowledged', 'resolved'].map((s) => h('option', { value: s, selected: params.get('state') === s }, s ? word(s) : t('all'))));
  const severity = h('select', { id: 'f-severity', name: 'severity' }, ['', 'critical', 'warning', 'info'].map((s) => h('option', { value: s, selected: params.get('severity') === s }, s ? word(s) : t('all'))));
  const liveBadge = h('span', { class: 'badge', role: 'status', id: 'live' }, t('offline'));
  const status = h('p', { role: 'status', class: 'muted', id: 'alerts-status' });
  const body = h('tbody');
  const table = h('table', { class: 'alerts' },
    h('caption', { class: 'sr' }, t('alerts')),
    h('thead', {}, h('tr', {}, [t('severity'), t('state'), t('alerts'), t('subject'), t('opened'), t('actions')].map((c) => h('th', { scope: 'col' }, c)))), body);
  ctx.main.append(
    h('div', { class: 'title-row' }, h('h1', {}, t('alerts')), liveBadge),
    h('form', { class: 'filters', onsubmit: (e: Event) => e.preventDefault() },
      h('label', {}, t('state'), state), h('label', {}, t('severity'), severity)),
    status, table);

  const act = async (a: Alert, what: 'acknowledge' | 'resolve', note?: string) => {
    try {
      await api(`/alerts/${a.id}/${what}`, { method: 'POST', ...(note ? { json: { note } } : {}) });
      status.textContent = `${t(what)}: ${a.title}`;
    } catch (e) { status.textContent = String(e instanceof Error ? e.message : e); }
    await load();
  };
  const commentForm = (a: Alert) => {
    const input = h('input', { name: 'comment', 'aria-label': `${t('comment')}: ${a.title}`, placeholder: t('comment'), maxlength: 2000 });
    return h('form', { class: 'inline', onsubmit: async (e: Event) => {
      e.preventDefault();
      if (!input.value.trim()) return;
      try {
        await api(`/alerts/${a.id}/comments`, { method: 'POST', json: { body: input.value } });
        status.textContent = `${t('comment')}: ${a.title}`;
        input.value = '';
      } catch (x) { status.textContent = String(x instanceof Error ? x.message : x); }
    } }, input, h('button', { type: 'submit' }, t('send')));
  };
  const rowOf = (a: Alert) => h('tr', { 'data-alert': a.id, 'data-state': a.state, class: `sev-${a.severity}` },
    h('td', {}, h('span', { class: `sev sev-${a.severity}` }, word(a.severity))),
    h('td', { class: 'alert-state' }, word(a.state), a.acknowledgedBy ? h('small', {}, ` · ${a.acknowledgedBy}`) : null),
    h('td', {}, h('strong', {}, a.title), h('br'), h('small', { class: 'muted' }, `${a.rule} · ${a.detail}`)),
    h('td', {}, subjectLink(a)),
    h('td', {}, cst(a.openedAt)),
    h('td', { class: 'actions' },
      a.state === 'open' ? h('button', { onclick: () => void act(a, 'acknowledge') }, t('acknowledge')) : null,
      a.state !== 'resolved' ? h('button', { onclick: () => { const note = prompt(t('note')) ?? undefined; void act(a, 'resolve', note || undefined); } }, t('resolve')) : null,
      commentForm(a)));
  async function load() {
    const q = new URLSearchParams();
    if (state.value) q.set('state', state.value);
    if (severity.value) q.set('severity', severity.value);
    history.replaceState(null, '', `/alerts${q.size ? `?${q}` : ''}`);
    const items = await all<Alert>(`/alerts${q.size ? `?${q}` : ''}`);
    if (ctx.signal.aborted) return;
    body.replaceChildren(...(items.length ? items.map(rowOf) : [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, t('none')))]));
  }
  state.addEventListener('change', () => void load());
  severity.addEventListener('change', () => void load());
  await load();
  let pending: number | undefined;
  void follow(() => {
    // Several changes often come together: reload once.
    clearTimeout(pending);
    pending = window.setTimeout(() => void load(), 250);
  }, (live) => { liveBadge.textContent = live ? `● ${t('live')}` : t('offline'); liveBadge.classList.toggle('ok', live); }, ctx.signal);
}
