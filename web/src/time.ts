// Times are shown in Asia/Shanghai with the offset, whatever the browser's zone: 2026-11-23 15:39 +08:00.
const fmt = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

/** An RFC 3339 time as `YYYY-MM-DD HH:MM +08:00` in China Standard Time (no daylight saving). */
export function cst(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = Object.fromEntries(fmt.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} +08:00`;
}

/** Hours between two RFC 3339 times. */
export function hours(from: string, to: string): number {
  return (new Date(to).getTime() - new Date(from).getTime()) / 3_600_000;
}
