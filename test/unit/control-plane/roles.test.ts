// The role matrix: ordered, every user-API mutation listed, and the exact split the issue asks
// for (VIEWER reads; LAUNCHER runs; EDITOR code locations and automation; ADMIN tokens and audit).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createUserSchema } from '../../../src/control-plane/graphql/user-schema.js';
import { REQUIRED_ROLE, USER_ROLES, allowedActions, can, roleAtLeast } from '../../../src/control-plane/core/roles.js';

test('every root field of the user API (query, mutation, subscription) has a role decision', () => {
  const schema = createUserSchema();
  const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()];
  const fields = roots.flatMap((t) => Object.keys(t?.getFields() ?? {}));
  assert.ok(fields.length >= 20, `only ${fields.length} root fields found`);
  const missing = fields.filter((f) => !(f in REQUIRED_ROLE));
  assert.deepEqual(missing, [], 'decide the least role of each in REQUIRED_ROLE (core/roles.ts)');
  const stale = Object.keys(REQUIRED_ROLE).filter((a) => !fields.includes(a));
  assert.deepEqual(stale, [], 'REQUIRED_ROLE names fields the schema no longer has');
});

test('roles are ordered and each includes the ones below', () => {
  for (const [i, r] of USER_ROLES.entries()) {
    for (const [j, s] of USER_ROLES.entries()) assert.equal(roleAtLeast(r, s), i >= j, `${r} >= ${s}`);
  }
  for (let i = 1; i < USER_ROLES.length; i++) {
    const lower = new Set(allowedActions(USER_ROLES[i - 1]!));
    const higher = new Set(allowedActions(USER_ROLES[i]!));
    for (const a of lower) assert.ok(higher.has(a), `${USER_ROLES[i]} must keep ${a}`);
  }
});

test('the matrix of issue 13', () => {
  const expect: Record<string, string[]> = {
    VIEWER: ['createSignInLink'],
    LAUNCHER: ['launchRun', 'terminateRun', 'queryCodeLocation'],
    EDITOR: ['deployCodeLocation', 'reloadCodeLocation', 'deleteCodeLocation', 'setScheduleState', 'setSensorState'],
    ADMIN: ['createToken', 'revokeToken', 'tokens', 'auditLog'],
  };
  for (const [i, role] of USER_ROLES.entries()) {
    for (const [j, granted] of USER_ROLES.entries()) {
      for (const action of expect[granted]!) assert.equal(can(role, action), i >= j, `${role} ${action}`);
    }
  }
  assert.equal(can('VIEWER', 'runs'), true, 'reads not in the table are open to VIEWER');
});
