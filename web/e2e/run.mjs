// End-to-end tests of the console in a real headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core; never a downloaded browser), against a running `jianghai demo`.
//
//   JIANGHAI_E2E_URL=http://127.0.0.1:8080 node e2e/run.mjs
//
// Env: JIANGHAI_E2E_URL (required), JIANGHAI_E2E_SHOTS (screenshot folder, default
// ../target/e2e-screenshots), JIANGHAI_CHROMIUM (default /usr/bin/chromium). Exits non-zero on
// the first failed check, naming it.
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const base = process.env.JIANGHAI_E2E_URL?.replace(/\/$/, '');
if (!base) { console.error('set JIANGHAI_E2E_URL'); process.exit(2); }
const shots = process.env.JIANGHAI_E2E_SHOTS ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'target', 'e2e-screenshots');
const executablePath = process.env.JIANGHAI_CHROMIUM ?? '/usr/bin/chromium';
mkdirSync(shots, { recursive: true });
const password = (who) => `jianghai-demo-${who}`;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader'];

let failures = 0;
async function check(name, f) {
  const started = Date.now();
  try {
    await f();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}

/** A fresh browser profile per party, with its language and a time zone that is not China's. */
async function party(who, locale) {
  const dir = mkdtempSync(join(tmpdir(), `jianghai-e2e-${who}-`));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath, headless: true, args: ARGS, locale, timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 860 },
  });
  const page = ctx.pages()[0] ?? await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(20_000);
  return { ctx, page, errors, close: async () => { await ctx.close(); rmSync(dir, { recursive: true, force: true }); } };
}

async function login(page, who) {
  await page.goto(`${base}/`);
  await page.fill('input[name=username]', who);
  await page.fill('input[name=password]', password(who));
  await page.press('input[name=password]', 'Enter');
  await page.waitForSelector('#party');
  assert.match(await page.textContent('#party'), new RegExp(who));
}

const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const vesselNames = async (page) => {
  await page.waitForSelector('.vessel-card, .vessel-list .muted');
  return page.$$eval('.vessel-card h3', (els) => els.map((e) => e.textContent.trim()));
};
const FIRST_VIN = 'LS5D3ECA4SC001001';
const TRANSIT = 'CQZG2026000001';
const transitCard = `.transit[data-number="${TRANSIT}"]`;
/** The server's own answer to `path` with the page's token (the console adds nothing to it). */
const apiAs = (page, path) => page.evaluate(async (path) => {
  const r = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${sessionStorage.getItem('jianghai.token')}` } });
  return { status: r.status, body: await r.json().catch(() => null) };
}, path);

const wrong = await party('wrong', 'en-US');
await check('a wrong password is refused with a message', async () => {
  await wrong.page.goto(`${base}/`);
  await wrong.page.fill('input[name=username]', 'carrier');
  await wrong.page.fill('input[name=password]', 'not-the-password');
  await wrong.page.click('button[type=submit]');
  await wrong.page.waitForFunction(() => document.querySelector('#login-error')?.textContent?.length > 0);
  assert.equal(await wrong.page.$('#party'), null);
});
await check('the login screen is keyboard usable: skip link first, then the fields', async () => {
  const p = wrong.page;
  await p.goto(`${base}/`);
  await p.keyboard.press('Tab');
  // the username field has focus on load; shift-tab goes back to the skip link
  await p.keyboard.press('Shift+Tab');
  await p.keyboard.press('Shift+Tab');
  const order = [];
  for (let i = 0; i < 4; i++) {
    await p.keyboard.press('Tab');
    order.push(await p.evaluate(() => document.activeElement?.getAttribute('name') ?? document.activeElement?.tagName));
  }
  assert.deepEqual(order.slice(0, 3), ['username', 'password', 'BUTTON'], order.join(','));
  const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused element shows its focus');
});
await wrong.close();

// The exporter, with an English browser.
const exp = await party('exporter', 'en-US');
await check('exporter: English for an English browser; sees its cars on both ships', async () => {
  await login(exp.page, 'exporter');
  assert.equal(await exp.page.getAttribute('html', 'lang'), 'en');
  const names = await vesselNames(exp.page);
  assert.deepEqual(names.sort(), ['COSCO PCTC 1', 'Minsheng Ro-Ro 8']);
  await exp.page.waitForSelector('.vessel-marker', { timeout: 30_000 }).catch(() => {});
  await exp.page.waitForTimeout(1500);
  await shot(exp.page, 'exporter-map');
});
await check('exporter: VIN timeline in Asia/Shanghai time; the ledger check is not open to exporters', async () => {
  await exp.page.click('nav a[href="/vin"]');
  await exp.page.fill('#vin-input', FIRST_VIN.toLowerCase());
  await exp.page.press('#vin-input', 'Enter');
  await exp.page.waitForSelector('#timeline li');
  assert.equal(await exp.page.getAttribute('#ledger-badge', 'data-verified'), 'unavailable');
  const items = await exp.page.$$eval('#timeline li', (els) => els.map((e) => e.textContent));
  assert.ok(items.length >= 8, `${items.length} timeline entries`);
  assert.ok(items.every((t) => t.includes('+08:00')), 'times carry +08:00');
  await shot(exp.page, 'exporter-vin-timeline');
});
await check('exporter: sees the transit of its cars on the board, read-only', async () => {
  await exp.page.click('nav a[href="/customs"]');
  await exp.page.waitForSelector(transitCard);
  assert.equal(await exp.page.getAttribute(transitCard, 'data-state'), 'closed');
  assert.ok(await exp.page.$('#read-only'), 'the board says it is read-only');
  assert.equal(await exp.page.$$eval('main button, main form', (els) => els.length), 0, 'no action on the board');
  assert.match(await exp.page.textContent(`${transitCard} h2`), /Closed/);
  await shot(exp.page, 'exporter-transit-board');
});
await exp.close();

// Customs, with a Chinese browser.
const cus = await party('customs', 'zh-CN');
await check('customs: Chinese for a Chinese browser; the ledger-verified badge', async () => {
  await login(cus.page, 'customs');
  assert.equal(await cus.page.getAttribute('html', 'lang'), 'zh-CN');
  assert.ok((await cus.page.textContent('nav')).includes('告警'));
  assert.deepEqual((await vesselNames(cus.page)).sort(), ['COSCO PCTC 1', 'Minsheng Ro-Ro 8']);
  await cus.page.goto(`${base}/vin/${FIRST_VIN}`);
  await cus.page.waitForSelector('#ledger-badge[data-verified=true]');
  assert.match(await cus.page.textContent('#ledger-badge'), /账本已校验/);
  await shot(cus.page, 'customs-vin-verified');
});
await check('customs: the transit board with the demo\'s closed transit, its seals and log; switching to English', async () => {
  await cus.page.click('nav a[href="/customs"]');
  await cus.page.waitForSelector(transitCard);
  assert.equal(await cus.page.getAttribute(transitCard, 'data-state'), 'closed');
  assert.match(await cus.page.textContent(`${transitCard} h2`), /已核销/);
  const seals = await cus.page.$$eval(`${transitCard} .seal-state`, (els) => els.map((e) => [e.dataset.seal, e.textContent]));
  assert.equal(seals.length, 4, JSON.stringify(seals));
  // The e-seal's state comes from its readings (sealed), the close verified every seal.
  const eseal = seals.find(([n]) => n.startsWith('ES-'));
  assert.ok(eseal && /施封完好/.test(eseal[1]) && /抵达核验完好/.test(eseal[1]), JSON.stringify(seals));
  assert.match(await cus.page.textContent(`#seals-${TRANSIT}`), /电量 3\.\d\d V/);
  // One car held for inspection and released; the log holds every action.
  assert.match(await cus.page.textContent(`#holds-${TRANSIT}`), /inspection/);
  const log = await cus.page.$$eval(`#log-${TRANSIT} tbody tr`, (els) => els.length);
  assert.ok(log >= 7, `${log} log entries`);
  // The close first attempted without the e-seal was refused, and the board lists it.
  const refused = await cus.page.textContent('#refused');
  assert.match(refused, new RegExp(`${TRANSIT}.*close.*ES-0001-D3`, 's'));
  await shot(cus.page, 'customs-board');
  await cus.page.selectOption('#lang', 'en');
  await cus.page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.ok((await cus.page.textContent('nav')).includes('Alerts'));
  await cus.page.waitForSelector(transitCard);
  assert.match(await cus.page.textContent(`${transitCard} h2`), /Closed/);
});
await check('customs: the KPIs give the savings and the customs transit time', async () => {
  await cus.page.click('nav a[href="/kpi"]');
  await cus.page.waitForSelector('#kpi-savings');
  assert.match(await cus.page.textContent('#kpi-savings .kpi-value'), /162,000 CNY · 108/);
  assert.match(await cus.page.textContent('#kpi-customs-time .kpi-value'), /^\d+ h$/);
  await shot(cus.page, 'customs-kpi');
});
await check('customs: text contrast is readable (WCAG AA, 4.5:1) on the main screens', async () => {
  for (const path of ['/', '/alerts', `/vin/${FIRST_VIN}`, '/customs', '/kpi']) {
    await cus.page.goto(`${base}${path}`);
    await cus.page.waitForSelector('main h1, main h2');
    await cus.page.waitForTimeout(500);
    const worst = await cus.page.evaluate(() => {
      const rgb = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
      const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length >= 3 && (c.length === 3 || c[3] > 0.5)) return c; } return [255, 255, 255]; };
      let worst = { ratio: 99, text: '' };
      for (const el of document.querySelectorAll('header *, main *')) {
        if (el.closest('.maplibregl-map')) continue;
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!own || !el.getClientRects().length) continue;
        const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < worst.ratio) worst = { ratio, text: el.textContent.trim().slice(0, 40) };
      }
      return worst;
    });
    assert.ok(worst.ratio >= 4.5, `${path}: contrast ${worst.ratio.toFixed(2)} for "${worst.text}"`);
    console.log(`     lowest text contrast on ${path}: ${worst.ratio.toFixed(2)}:1`);
  }
});
await cus.page.goto(`${base}/alerts`);
await cus.page.waitForSelector('#live.ok');

// The carrier: its own ship only; acknowledges an alert; follows its vessel.
const car = await party('carrier', 'en-GB');
await check('carrier: sees its own ship, not the ocean carrier', async () => {
  await login(car.page, 'carrier');
  assert.deepEqual(await vesselNames(car.page), ['Minsheng Ro-Ro 8']);
  await car.page.goto(`${base}/vessels/cosco-pctc-1`);
  await car.page.waitForSelector('main .error');
  assert.match(await car.page.textContent('main .error'), /Not found/);
});
await check('carrier: follows its vessel on the map, then opens its decks and sensors', async () => {
  await car.page.goto(`${base}/`);
  const follow = car.page.locator('.vessel-card button.follow').first();
  await follow.click();
  assert.equal(await follow.getAttribute('aria-pressed'), 'true');
  assert.equal(await car.page.evaluate(() => document.activeElement?.className), 'follow', 'focus stays on the button');
  await car.page.waitForTimeout(1500);
  await shot(car.page, 'carrier-map-following');
  await car.page.click('.vessel-card a:text("Minsheng Ro-Ro 8")');
  await car.page.waitForSelector('#vessel-name');
  assert.equal(await car.page.textContent('#vessel-name'), 'Minsheng Ro-Ro 8');
  await car.page.waitForSelector('#vessel-track dl');
  assert.match(await car.page.textContent('#vessel-track'), /Berthed|Under way|In lock|Waiting/);
  await car.page.waitForSelector('svg.deck .car');
  const cars = await car.page.$$eval('svg.deck .car', (els) => els.length);
  assert.ok(cars >= 100, `${cars} cars drawn on the decks`);
  await car.page.waitForSelector('.chart svg');
  await shot(car.page, 'carrier-vessel');
  // Every car on the decks is reachable by keyboard too: the deck's list links to its timeline.
  const summary = car.page.locator('.deck-fig details summary').first();
  await summary.focus();
  await car.page.keyboard.press('Enter');
  const vin = car.page.locator('.deck-vins a').first();
  const text = (await vin.textContent()).trim();
  await vin.focus();
  await car.page.keyboard.press('Enter');
  await car.page.waitForSelector('#timeline li');
  assert.equal(await car.page.textContent('#vehicle-title'), text);
});
await check('carrier: acknowledges an open alert and the inbox shows it live', async () => {
  await car.page.click('nav a[href="/alerts"]');
  await car.page.waitForSelector('#live.ok');
  await car.page.selectOption('#f-state', 'open');
  const row = car.page.locator('tr[data-state=open]', { hasText: 'EV battery above 50' }).first();
  await row.waitFor();
  const id = await row.getAttribute('data-alert');
  await row.locator('button', { hasText: 'Acknowledge' }).click();
  // The acknowledged alert leaves the "open" filter; with all states it shows acknowledged by the carrier.
  await car.page.waitForSelector(`tr[data-alert="${id}"]`, { state: 'detached' });
  await car.page.selectOption('#f-state', '');
  const state = car.page.locator(`tr[data-alert="${id}"] .alert-state`);
  await state.waitFor();
  assert.match(await state.textContent(), /Acknowledged.*carrier/);
  // Customs, with its inbox open in another browser, sees the acknowledgement live (SSE).
  await cus.page.waitForFunction((id) => /Acknowledged/.test(document.querySelector(`tr[data-alert="${id}"] .alert-state`)?.textContent ?? ''), id);
  await shot(cus.page, 'customs-alerts-live');
  const comment = car.page.locator(`tr[data-alert="${id}"] input[name=comment]`);
  await comment.fill('crew checked the battery logger');
  await comment.press('Enter');
  await car.page.waitForFunction(() => document.querySelector('#alerts-status')?.textContent?.startsWith('Comment'));
  await shot(car.page, 'carrier-alerts');
});
await check('carrier: the tally, loading and KPI screens answer', async () => {
  for (const [href, sel] of [['/tally', '#tally-sessions'], ['/loading', 'main .card'], ['/kpi', '#kpi-transit']]) {
    await car.page.click(`nav a[href="${href}"]`);
    await car.page.waitForSelector(sel);
  }
  await car.page.waitForSelector('.chart.tall svg');
  await shot(car.page, 'carrier-kpi');
});
await check('carrier: the board shows no declaration; the server refuses them to it', async () => {
  await car.page.click('nav a[href="/customs"]');
  await car.page.waitForSelector('#transits-none');
  assert.equal(await car.page.$(transitCard), null);
  const list = await apiAs(car.page, '/customs/transits');
  assert.deepEqual([list.status, list.body], [200, []]);
  assert.equal((await apiAs(car.page, `/customs/transits/${TRANSIT}`)).status, 404);
  assert.equal((await apiAs(car.page, `/customs/transits/${TRANSIT}/log`)).status, 404);
  await shot(car.page, 'carrier-transit-board');
});
await cus.close();
await check('no script errors in the pages', async () => {
  assert.deepEqual([...exp.errors, ...cus.errors, ...car.errors], []);
});
await car.close();

console.log(`screenshots: ${shots} (${statSync(shots).isDirectory() ? 'written' : 'missing'})`);
if (failures) { console.error(`${failures} end-to-end check(s) failed`); process.exit(1); }
console.log('all end-to-end checks passed');
