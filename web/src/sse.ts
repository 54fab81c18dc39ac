// The live alert stream. EventSource cannot send an Authorization header, so the stream is read
// with fetch() and parsed here: the token never goes into a URL (nor into logs or history).
import { session } from './api';

export interface StreamEvent { id: string | null; event: string; data: string }

/** Parses complete SSE blocks out of `buffer`; returns the events and what is left over. */
export function parseSse(buffer: string): [StreamEvent[], string] {
  const out: StreamEvent[] = [];
  const blocks = buffer.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let id: string | null = null, event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) out.push({ id, event, data: data.join('\n') });
  }
  return [out, rest];
}

/** Follows /alerts/stream until `signal` aborts, resuming with Last-Event-ID after a drop. */
export async function follow(onEvent: (e: StreamEvent) => void, onState: (live: boolean) => void, signal: AbortSignal) {
  let last: string | null = null;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${session.token ?? ''}`, accept: 'text/event-stream' };
      if (last) headers['last-event-id'] = last;
      const res = await fetch('/api/v1/alerts/stream', { headers, signal });
      if (!res.ok || !res.body) throw new Error(`stream: ${res.status}`);
      onState(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const [events, rest] = parseSse(buf + value);
        buf = rest;
        for (const e of events) {
          if (e.id) last = e.id;
          onEvent(e);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
