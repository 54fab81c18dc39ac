import { expect, it } from 'vitest';
import { cst, hours } from './time';

it('shows times in Asia/Shanghai with the offset', () => {
  expect(cst('2026-11-23T07:36:29Z')).toBe('2026-11-23 15:36 +08:00');
  expect(cst('2026-12-31T16:30:00Z')).toBe('2027-01-01 00:30 +08:00');
  expect(cst(null)).toBe('—');
  expect(cst('not a time')).toBe('not a time');
  expect(hours('2026-11-22T00:00:00Z', '2026-11-23T12:00:00Z')).toBe(36);
});
