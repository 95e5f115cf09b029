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
  cutMessage,
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

test("a cut text and its note never pass the maximum: the note's count gaining a digit, any character at the cut", () => {
  // A 40-character limit name makes the note ~90 bytes, so the count crosses 99 -> 100 within
  // the note's own length: the case where the note, sized for one count, grew by a byte.
  for (const limit of ['someLimit', 'l'.repeat(40)]) {
    for (const max of [100, 101, 102, 103, 200]) {
      for (const ch of ['a', 'é', '€', '😀']) {
        for (let pad = 0; pad < 4; pad++) {
          for (let n = 1; n * Buffer.byteLength(ch) + pad <= max + 300; n++) {
            const text = 'a'.repeat(pad) + ch.repeat(n);
            const total = Buffer.byteLength(text);
            const cut = cutBytes(text, max, limit);
            assert.ok(
              Buffer.byteLength(cut) <= max,
              `${limit.length}/${max}/${ch}/${pad}/${n}: ${Buffer.byteLength(cut)} bytes`,
            );
            if (total <= max) {
              assert.equal(cut, text);
              continue;
            }
            const m = NOTE.exec(cut);
            assert.ok(m && !m[1]!.includes('\ufffd'), cut);
            assert.equal(Buffer.byteLength(m[1]!) + Number(m[2]), total);
            const chars = cutMessage(text, max, limit);
            assert.ok(chars.length <= max, `${limit.length}/${max}/${ch}/${pad}/${n}: ${chars.length} characters`);
          }
        }
      }
    }
  }
});

test('a maximum shorter than the note itself: the text is cut to it, with no note', () => {
  const cut = cutBytes('é'.repeat(100), 21, 'someLimit');
  assert.equal(cut, 'é'.repeat(10));
  assert.equal(cutMessage('x'.repeat(100), 21, 'someLimit'), 'x'.repeat(21));
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
