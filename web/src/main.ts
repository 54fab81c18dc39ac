import './style.css';
import { api, ApiError, session, whenUnauthorized, type Me } from './api';
import { h, link } from './dom';
import { currentLang, setLang, t, type Lang } from './i18n';

export interface Ctx { me: Me; main: HTMLElement; signal: AbortSignal }
type Screen = (ctx: Ctx, ...params: string[]) => Promise<void> | void;

// Screens load on demand, so the first screen carries only what it needs.
const routes: [RegExp, () => Promise<Screen>, Parameters<typeof t>[0]][] = [
  [/^\/$/, () => import('./screens/map').then((m) => m.default), 'map'],
  [/^\/vessels\/([^/]+)$/, () => import('./screens/vessel').then((m) => m.default), 'vessel'],
  [/^\/alerts$/, () => import('./screens/alerts').then((m) => m.default), 'alerts'],
  [/^\/vin(?:\/([^/]+))?$/, () => import('./screens/vin').then((m) => m.default), 'vin'],
  [/^\/tally$/, () => import('./screens/tally').then((m) => m.default), 'tally'],
  [/^\/loading$/, () => import('./screens/loading').then((m) => m.default), 'loadingScreen'],
  [/^\/customs$/, () => import('./screens/customs').then((m) => m.default), 'customs'],
  [/^\/kpi$/, () => import('./screens/kpi').then((m) => m.default), 'kpi'],
];
const navItems: [string, Parameters<typeof t>[0]][] = [
  ['/', 'map'], ['/alerts', 'alerts'], ['/vin', 'vin'], ['/tally', 'tally'], ['/loading', 'loadingScreen'], ['/customs', 'customs'], ['/kpi', 'kpi'],
];

const root = document.getElementById('app')!;
let me: Me | null = null;
let current: AbortController | null = null;

export function navigate(path: string) {
  history.pushState(null, '', path);
  void render();
}

document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest?.('a[data-link]') as HTMLAnchorElement | null;
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href')!);
});
window.addEventListener('popstate', () => void render());
whenUnauthorized(() => { session.clear(); me = null; void render(); });

function langSwitch(): HTMLElement {
  const sel = h('select', { id: 'lang', 'aria-label': t('language'), onchange: (e: Event) => { setLang((e.target as HTMLSelectElement).value as Lang); void render(); } },
    h('option', { value: 'zh-CN', selected: currentLang() === 'zh-CN' }, '中文'),
    h('option', { value: 'en', selected: currentLang() === 'en' }, 'English'));
  return h('label', { class: 'lang' }, h('span', { class: 'sr' }, t('language')), sel);
}

function loginScreen() {
  const err = h('p', { class: 'error', role: 'alert', id: 'login-error' });
  const form = h('form', { class: 'login card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, `${t('appName')} · ${t('login')}`),
    h('p', { class: 'muted' }, t('tagline')),
    h('label', {}, t('username'), h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true })),
    h('label', {}, t('password'), h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit' }, t('login')), err, langSwitch());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    try {
      const r = await api<{ token: string }>('/auth/login', { method: 'POST', json: { username: fd.get('username'), password: fd.get('password') } });
      session.set(r.token);
      await render();
    } catch (x) {
      err.textContent = `${t('loginFailed')}: ${x instanceof Error ? x.message : x}`;
    }
  });
  root.replaceChildren(h('main', { id: 'main' }, form));
  (form.querySelector('input') as HTMLInputElement).focus();
}

async function logout() {
  try { await api('/auth/logout', { method: 'POST' }); } catch { /* the token is dropped anyway */ }
  session.clear();
  me = null;
  navigate('/');
}

export async function render() {
  current?.abort();
  current = new AbortController();
  document.documentElement.lang = currentLang();
  if (!session.token) return loginScreen();
  if (!me) {
    try { me = await api<Me>('/me'); } catch { session.clear(); return loginScreen(); }
  }
  const path = location.pathname;
  const main = h('main', { id: 'main', tabindex: '-1' }, h('p', { class: 'muted' }, t('loading')));
  const nav = h('nav', { 'aria-label': t('nav') }, h('ul', {}, navItems.map(([href, key]) =>
    h('li', {}, link(href, t(key)))))) as HTMLElement;
  for (const a of nav.querySelectorAll('a')) if (a.getAttribute('href') === path || (path.startsWith(a.getAttribute('href')!) && a.getAttribute('href') !== '/')) a.setAttribute('aria-current', 'page');
  const header = h('header', {},
    h('div', { class: 'brand' }, h('strong', {}, t('appName')), h('span', { class: 'muted' }, t('tagline'))),
    nav,
    h('div', { class: 'who' },
      h('span', { id: 'party', 'data-kind': me.organisation.kind }, `${me.user.username} · ${me.organisation.name}`),
      langSwitch(),
      h('button', { class: 'link', onclick: () => void logout() }, t('logout'))));
  root.replaceChildren(header, main);
  const match = routes.find(([re]) => re.test(path));
  if (!match) { main.replaceChildren(h('p', {}, t('notFound'))); return; }
  const params = path.match(match[0])!.slice(1).map((p) => (p ? decodeURIComponent(p) : ''));
  document.title = `${t(match[2])} · ${t('appName')}`;
  try {
    const screen = await match[1]();
    main.replaceChildren();
    await screen({ me, main, signal: current.signal }, ...params);
  } catch (x) {
    if (current.signal.aborted) return;
    main.replaceChildren(h('p', { class: 'error', role: 'alert' }, x instanceof ApiError && x.status === 404 ? t('notFound') : String(x instanceof Error ? x.message : x)));
  }
}

void render();
