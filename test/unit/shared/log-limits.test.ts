// ctx.log's limits: a message within maxLogMessageBytes of UTF-8 and fields within
// maxLogDataBytes of JSON are kept as they are; past them, cut (never inside a character), the
// cut saying how many bytes and naming the limit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_LOG_DATA_BYTES,
  MAX_LOG_MESSAGE_BYTES,
  boundedLogData,
  boundedLogMessage,
  cutBytes,
} from '../../../src/shared/message-limits.js';

const NOTE = /^(.*) \[… (\d+) more bytes cut: the limit (\w+) is (\d+) \(fixed\)\]$/s;

test('a message within the limit is kept; a longer one is cut to the limit, the note counting the bytes cut', () => {
  const fits = 'é'.repeat(MAX_LOG_MESSAGE_BYTES / 2);
  assert.equal(boundedLogMessage(fits), fits);
  const text = 'é'.repeat(MAX_LOG_MESSAGE_BYTES); // twice the limit in bytes
  const cut = boundedLogMessage(text);
  assert.ok(Buffer.byteLength(cut) <= MAX_LOG_MESSAGE_BYTES);
  const m = NOTE.exec(cut);
  assert.ok(m, cut.slice(-120));
  assert.equal(m[3], 'maxLogMessageBytes');
  assert.equal(Number(m[4]), MAX_LOG_MESSAGE_BYTES);
  assert.ok(!m[1]!.includes('\ufffd'), 'not cut inside a character');
  assert.equal(Buffer.byteLength(m[1]!) + Number(m[2]), Buffer.byteLength(text));
});

test('a 4-byte character at the cut is kept whole or not at all', () => {
  for (let pad = 0; pad < 4; pad++) {
    const cut = cutBytes('a'.repeat(pad) + '😀'.repeat(100), 200, 'someLimit');
    const m = NOTE.exec(cut);
    assert.ok(m && !m[1]!.includes('\ufffd') && Buffer.byteLength(cut) <= 200, cut);
    assert.equal(Buffer.byteLength(m[1]!) + Number(m[2]), pad + 400);
  }
});

test('fields within the limit are kept as they are; past it, their JSON text cut under `cut`', () => {
  const small = { rows: 42, name: 'n', ok: true, none: null };
  assert.equal(boundedLogData(small), small);
  const nested = { a: { b: 'x'.repeat(1000) } };
  assert.equal(boundedLogData(nested), nested);
  const big = { blob: 'y'.repeat(MAX_LOG_DATA_BYTES) };
  const out = boundedLogData(big);
  assert.deepEqual(Object.keys(out), ['cut']);
  const m = NOTE.exec(out.cut as string);
  assert.ok(m);
  assert.equal(m[3], 'maxLogDataBytes');
  assert.ok(m[1]!.startsWith('{"blob":"yyy'));
  assert.equal(Buffer.byteLength(m[1]!) + Number(m[2]), JSON.stringify(big).length);
  const deep = boundedLogData({ a: { b: 'z'.repeat(MAX_LOG_DATA_BYTES) } });
  assert.deepEqual(Object.keys(deep), ['cut']);
});
