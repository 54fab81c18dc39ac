import type { Ctx } from '../main';
import { all, type Vehicle } from '../api';
import { h, link } from '../dom';
import { t, word } from '../i18n';

// TODO(customs): the customs transit routes (transits, seals, closing) are being added on their own
// branch; until they land the board groups the vehicles the server shows this party by state.
const COLUMNS = ['tallied', 'declared', 'loaded', 'departed', 'arrived', 'transit_closed', 'transshipped', 'exported', 'held'];

export default async function customs(ctx: Ctx) {
  const vehicles = await all<Vehicle>('/vehicles', 5000);
  ctx.main.append(h('h1', {}, t('transitBoard')), h('p', { class: 'muted', id: 'customs-note' }, t('customsTodo')),
    h('div', { class: 'board' }, COLUMNS.map((c) => {
      const cars = vehicles.filter((v) => v.state === c);
      return h('section', { class: 'column', 'aria-label': word(c) }, h('h2', {}, `${word(c)} (${cars.length})`),
        h('ul', {}, cars.slice(0, 40).map((v) => h('li', {}, link(`/vin/${v.vin}`, v.vin)))), cars.length > 40 ? h('p', { class: 'muted' }, `+${cars.length - 40}`) : null);
    })));
}
