import { describe, expect, it } from 'vitest';
import { gcj02ToWgs84, outOfChina, wgs84ToGcj02 } from './gcj02';

/** Great-circle distance in metres. */
function metres(a: [number, number], b: [number, number]): number {
  const r = Math.PI / 180;
  const dLat = (b[1] - a[1]) * r;
  const dLon = (b[0] - a[0]) * r;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * r) * Math.cos(b[1] * r) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(h));
}

describe('wgs84ToGcj02', () => {
  it('matches the reference value for Beijing (Tiananmen)', () => {
    // Reference pair widely used to check implementations of the published formula.
    const [lon, lat] = wgs84ToGcj02(116.391349, 39.907375);
    expect(lon).toBeCloseTo(116.397590, 5);
    expect(lat).toBeCloseTo(39.908776, 5);
  });

  it('shifts Chongqing Chaotianmen by a few hundred metres, not kilometres', () => {
    const p: [number, number] = [106.588, 29.566];
    const d = metres(p, wgs84ToGcj02(...p));
    expect(d).toBeGreaterThan(100);
    expect(d).toBeLessThan(1000);
  });

  it('leaves points outside China unchanged', () => {
    expect(outOfChina(-99.13, 19.43)).toBe(true);
    expect(wgs84ToGcj02(-99.13, 19.43)).toEqual([-99.13, 19.43]);
    expect(wgs84ToGcj02(NaN, 30)).toEqual([NaN, 30]);
  });

  it('is inverted by gcj02ToWgs84 to within a metre along the corridor', () => {
    for (const p of [[106.8, 29.64], [111.0, 30.8], [114.3, 30.6], [121.6, 31.36]] as [number, number][]) {
      expect(metres(p, gcj02ToWgs84(...wgs84ToGcj02(...p)))).toBeLessThan(1);
    }
  });
});
