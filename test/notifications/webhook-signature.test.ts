import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { test } from 'node:test';
import { signWebhook, verifyWebhook } from '../../src/notifications/webhook-signature.ts';

const SECRET = 'whsec-test-0123456789abcdef0123456789abcdef';
const OTHER = 'whsec-other-0123456789abcdef0123456789abcdef';
const BODY = JSON.stringify({ event: 'job.ended', job: { id: 'job_1', status: 'SUCCESS' } });
const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z

test('a signature verifies for its body, secret and time, and has the documented form', () => {
  const header = signWebhook(SECRET, NOW, BODY);
  assert.match(header, /^t=1767225600,v1=[0-9a-f]{64}$/);
  assert.equal(verifyWebhook(SECRET, header, BODY, NOW), true);
  // The raw bytes verify like their text.
  assert.equal(verifyWebhook(SECRET, header, Buffer.from(BODY), NOW), true);
});

test('a tampered body, a wrong secret or an empty secret does not verify', () => {
  const header = signWebhook(SECRET, NOW, BODY);
  assert.equal(verifyWebhook(SECRET, header, BODY.replace('SUCCESS', 'FAILED'), NOW), false);
  assert.equal(verifyWebhook(SECRET, header, `${BODY} `, NOW), false);
  assert.equal(verifyWebhook(OTHER, header, BODY, NOW), false);
  assert.equal(verifyWebhook('', header, BODY, NOW), false);
  // The timestamp is inside the MAC: moving it breaks the signature.
  const moved = header.replace(`t=${NOW}`, `t=${NOW + 1}`);
  assert.equal(verifyWebhook(SECRET, moved, BODY, NOW), false);
});

test('a timestamp outside the window, stale or in the future, does not verify', () => {
  const header = signWebhook(SECRET, NOW, BODY);
  assert.equal(verifyWebhook(SECRET, header, BODY, NOW + 300), true, 'the window is inclusive');
  assert.equal(verifyWebhook(SECRET, header, BODY, NOW + 301), false, 'stale');
  assert.equal(verifyWebhook(SECRET, header, BODY, NOW - 300), true);
  assert.equal(verifyWebhook(SECRET, header, BODY, NOW - 301), false, 'from the future');
  assert.equal(verifyWebhook(SECRET, header, BODY, NOW + 30, 10), false, 'a narrower window');
  assert.equal(verifyWebhook(SECRET, header, BODY, NOW + 3600, 7200), true, 'a wider window');
});

test('malformed headers do not verify', () => {
  const good = signWebhook(SECRET, NOW, BODY);
  const mac = good.slice(good.indexOf('v1=') + 3);
  const malformed: (string | null | undefined)[] = [
    null,
    undefined,
    '',
    'garbage',
    `v1=${mac}`, // no timestamp
    `t=${NOW}`, // no signature
    `t=${NOW},v1=`,
    `t=abc,v1=${mac}`,
    `t=-${NOW},v1=${mac}`,
    `t=${NOW}.5,v1=${mac}`,
    `t=${NOW},t=${NOW},v1=${mac}`, // two timestamps
    `t=${NOW},v1=${mac.slice(2)}`, // too short
    `t=${NOW},v1=${mac}00`, // too long
    `t=${NOW},v1=${mac.toUpperCase()}`, // the form is lower-case hex
    `t=${NOW},V1=${mac}`, // an unknown key is ignored, leaving no v1
    `t=${NOW},v1=${mac},junk`,
    `t=${NOW},${Array.from({ length: 9 }, () => `v1=${mac}`).join(',')}`, // more candidates than allowed
    `t=${NOW},v1=${mac}${' '.repeat(5000)}`, // over the length cap
  ];
  for (const header of malformed) {
    assert.equal(verifyWebhook(SECRET, header, BODY, NOW), false, `header ${JSON.stringify(header)?.slice(0, 80)}`);
  }
  // Whitespace around the parts and unknown fields (a future v2) are fine.
  assert.equal(verifyWebhook(SECRET, `t=${NOW}, v2=abc, v1=${mac}`, BODY, NOW), true);
});

test('a rotation: several v1 values, several receiver keys', () => {
  const both = signWebhook([OTHER, SECRET], NOW, BODY);
  assert.equal(both.split(',').length, 3);
  // A receiver still on the old key, and one already on the new key, both verify.
  assert.equal(verifyWebhook(SECRET, both, BODY, NOW), true);
  assert.equal(verifyWebhook(OTHER, both, BODY, NOW), true);
  // A receiver that accepts both keys verifies a delivery signed by either.
  assert.equal(verifyWebhook([OTHER, SECRET], signWebhook(SECRET, NOW, BODY), BODY, NOW), true);
  assert.equal(verifyWebhook(['x'.repeat(40)], both, BODY, NOW), false);
});

test('signing refuses an empty secret and a timestamp that is not whole seconds', () => {
  assert.throws(() => signWebhook('', NOW, BODY));
  assert.throws(() => signWebhook([], NOW, BODY));
  assert.throws(() => signWebhook(SECRET, NOW + 0.5, BODY));
  assert.throws(() => signWebhook(SECRET, -1, BODY));
});

/**
 * The receiver code of the README, verbatim in spirit: a receiver without jobql's module,
 * node:crypto only. If this stops agreeing with signWebhook, the documentation is wrong.
 */
function documentedVerify(secret: string, header: string, rawBody: Buffer, nowSeconds: number): boolean {
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = parts.find(([k]) => k === 't')?.[1];
  const candidates = parts.filter(([k]) => k === 'v1').map(([, v]) => Buffer.from(v ?? '', 'hex'));
  if (!t || !/^\d+$/.test(t) || Math.abs(nowSeconds - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  return candidates.some((c) => c.length === expected.length && timingSafeEqual(c, expected));
}

test('the documented receiver code verifies what jobql signs, and refuses tampering', () => {
  const header = signWebhook(SECRET, NOW, BODY);
  assert.equal(documentedVerify(SECRET, header, Buffer.from(BODY), NOW + 10), true);
  assert.equal(documentedVerify(SECRET, header, Buffer.from(`${BODY}x`), NOW + 10), false);
  assert.equal(documentedVerify(OTHER, header, Buffer.from(BODY), NOW + 10), false);
  assert.equal(documentedVerify(SECRET, header, Buffer.from(BODY), NOW + 301), false);
});
