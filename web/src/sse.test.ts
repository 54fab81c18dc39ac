import { expect, it } from 'vitest';
import { parseSse } from './sse';

it('parses complete events and keeps the partial one', () => {
  const [events, rest] = parseSse(': keep-alive\n\nid: 7\nevent: acknowledged\ndata: {"a":1}\n\nid: 8\nda');
  expect(events).toEqual([{ id: '7', event: 'acknowledged', data: '{"a":1}' }]);
  expect(rest).toBe('id: 8\nda');
  const [more] = parseSse(rest + 'ta: x\r\ndata: y\r\n\r\n');
  expect(more).toEqual([{ id: '8', event: 'message', data: 'x\ny' }]);
});
