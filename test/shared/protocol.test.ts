import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWellFormedToken, TOKEN_MAX_LENGTH, BEARER_PREFIX, SUBPROTOCOL } from '../../src/shared/protocol.ts';
import { HybridSessionError, isHybridSessionError } from '../../src/shared/errors.ts';

test('token shape: base64url and dots only, bounded', () => {
  assert.equal(isWellFormedToken('v1.abc_-.DEF'), true);
  assert.equal(isWellFormedToken(''), false);
  assert.equal(isWellFormedToken('a b'), false);
  assert.equal(isWellFormedToken('a+b/c='), false);
  assert.equal(isWellFormedToken('v1.' + 'x'.repeat(TOKEN_MAX_LENGTH - 3)), true);
  assert.equal(isWellFormedToken('v1.' + 'x'.repeat(TOKEN_MAX_LENGTH - 2)), false);
  // The version prefix is part of the shape (DESIGN "Token"): a prefixless value is not ours.
  assert.equal(isWellFormedToken('abc_-.DEF'), false);
  assert.equal(isWellFormedToken('v2.abc'), false);
  assert.equal(isWellFormedToken('é'), false);
});

test('the bearer subprotocol extends the selected one', () => {
  assert.ok(BEARER_PREFIX.startsWith(SUBPROTOCOL + '.'));
});

test('errors carry code, status and close code from one table', () => {
  const e = new HybridSessionError('HS_ERR_INVALID_TOKEN', 'bad');
  assert.equal(e.status, 401);
  assert.equal(e.closeCode, 4401);
  assert.ok(isHybridSessionError(e));
  assert.ok(isHybridSessionError({ name: 'HybridSessionError', code: 'HS_ERR_STORE' }));
  assert.ok(!isHybridSessionError(new Error('x')));
});
