// Proto3-JSON (de)serialisation of workflow histories, the format of Temporal's own history
// files (`temporal workflow show -o json`, the UI's download). @temporalio/common's
// historyToJSON/historyFromJSON fail in this install: @temporalio/common and @temporalio/proto
// each carry their own protobufjs copy, so protojson's `instanceof Type` check rejects the
// other copy's types. Loading protojson from @temporalio/proto's copy avoids that.
import { createRequire } from 'node:module';
import type * as protoTypes from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';

type History = protoTypes.temporal.api.history.v1.IHistory;
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, opts?: { ignoreUnknownFields?: boolean }): History | null;
}

const require = createRequire(import.meta.url);
// The CommonJS module object (an ESM namespace has no constructor, which the patcher reads).
const proto = require('@temporalio/proto') as typeof protoTypes;
const protojson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;
const root = patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown };
const historyType = root.lookupType('temporal.api.history.v1.History');

export function historyToJson(history: History): unknown {
  return protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history));
}

export function historyFromJson(json: unknown): History {
  const loaded = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
  if (!loaded) throw new TypeError('invalid history JSON');
  return loaded;
}
