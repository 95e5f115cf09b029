// Reading a spool line's head off its bytes: the run worker's and the Dagster spool's lines
// give their seq and type without a parse; anything in another shape (or not an event) gives
// undefined, so the shipper reads it strictly instead of forwarding it unread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineHead, parseEvent } from '../../../src/agent/spool-lines.js';

const head = (line: string) => {
  const buf = Buffer.from(`xx${line}\nyy`);
  return lineHead(buf, 2, 2 + Buffer.byteLength(line));
};

test('the spool writers’ lines: seq and type read off the bytes', () => {
  // EventSpool (run worker): seq, timestamp, type, then the rest.
  assert.deepEqual(
    head('{"seq":42,"timestamp":1700000000000,"type":"LOG","stepKey":"op","message":"\\"type\\":\\"RUN_SUCCESS\\""}'),
    { seq: 42, type: 'LOG' },
  );
  // The Dagster spool (python json.dumps, compact): seq, then type.
  assert.deepEqual(head('{"seq":7,"type":"RUN_SUCCESS","timestamp":1.5}'), { seq: 7, type: 'RUN_SUCCESS' });
  assert.deepEqual(head('{"seq":9007199254740991,"type":"ENGINE"}\r'), { seq: 9007199254740991, type: 'ENGINE' });
  assert.deepEqual(head('{"seq":3,"timestamp":1.7e12,"type":"STEP_START"} '), { seq: 3, type: 'STEP_START' });
});

test('anything else takes the strict path', () => {
  for (const line of [
    '',
    '{not json',
    '{"seq":0,"type":"LOG","timestamp":1}', // seq must be positive
    '{"seq":01,"type":"LOG","timestamp":1}',
    '{"seq":-1,"type":"LOG","timestamp":1}',
    '{"seq":1.5,"type":"LOG","timestamp":1}',
    '{"seq":99999999999999999999,"type":"LOG"}', // past the safe integers
    '{"seq":1,"type":"NOPE","timestamp":1}', // not an event type
    '{"seq":1,"type":"LOGX","timestamp":1}',
    '{"seq":1,"type":"log","timestamp":1}',
    '{"seq":1,"stepKey":"a","type":"LOG"}', // type not among the leading keys
    '{"type":"LOG","seq":1,"timestamp":1}',
    '{"seq":1,"timestamp":,"type":"LOG"}',
    '{"seq":1,"type":"LOG","timestamp":1', // cut short
    '{"seq":1,"type":"LOG"} trailing',
    ' {"seq":1,"type":"LOG","timestamp":1}',
  ]) {
    assert.equal(head(line), undefined, line);
  }
});

test('the strict path keeps what RunEventSchema accepts and drops the rest', () => {
  assert.equal(parseEvent('{"seq":1,"type":"LOG","timestamp":1,"message":"m"}')?.plain, true);
  // An unknown key: the schema strips it, so the line is re-encoded rather than forwarded.
  const stripped = parseEvent('{"seq":2,"type":"LOG","timestamp":1,"extra":true}');
  assert.equal(stripped?.plain, false);
  assert.deepEqual(stripped?.event, { seq: 2, type: 'LOG', timestamp: 1 });
  assert.equal(parseEvent('{"seq":3,"type":"LOG","timestamp":1,"message":5}'), undefined);
  assert.equal(parseEvent('{not json'), undefined);
});
