import { h } from './dom';

/** A plain accessible table: a caption, column headers, rows of text or nodes. */
export function table(caption: string, cols: string[], rows: (string | Node)[][], id?: string): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', { id },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))) : h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, '—')))));
}
