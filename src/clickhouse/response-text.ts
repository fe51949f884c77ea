import type { Readable } from 'node:stream';

/** Reads a response body as text, keeping at most `limit` characters (the rest is read and dropped). */
export async function readText(stream: Readable, limit: number): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    if (text.length < limit) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  }
  return text.length > limit ? text.slice(0, limit) : text;
}
