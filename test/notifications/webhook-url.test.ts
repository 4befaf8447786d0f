import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAllowedHost } from '../../src/notifications/allowed-hosts.ts';
import { MAX_WEBHOOK_URL_LENGTH, checkWebhookUrl } from '../../src/notifications/webhook-url.ts';

const SECRET = 's'.repeat(32);
const config = (...allowedHosts: string[]) => ({ secret: SECRET, allowedHosts });

function allowed(url: string, ...hosts: string[]): boolean {
  return checkWebhookUrl(url, config(...hosts)).ok;
}
function reason(url: string, ...hosts: string[]): string {
  const check = checkWebhookUrl(url, config(...hosts));
  assert.equal(check.ok, false, `${url} should be refused`);
  return check.ok ? '' : check.reason;
}

test('without a secret webhooks are off: every URL is refused', () => {
  const check = checkWebhookUrl('https://hooks.example.com/x', { secret: null, allowedHosts: ['hooks.example.com'] });
  assert.deepEqual(check, { ok: false, reason: 'webhooks are not enabled on this server' });
});

test('a host entry without a port allows the scheme default port only', () => {
  assert.ok(allowed('https://hooks.example.com/jobs?token=1', 'hooks.example.com'));
  assert.ok(allowed('http://hooks.example.com/', 'hooks.example.com'));
  assert.ok(allowed('https://hooks.example.com:443/', 'hooks.example.com'), 'the explicit default port');
  assert.match(reason('https://hooks.example.com:8443/', 'hooks.example.com'), /hooks\.example\.com:8443 is not allowed/);
  assert.match(reason('http://hooks.example.com:443/', 'hooks.example.com'), /not allowed/, '443 is not http’s default');
});

test('a host:port entry allows that port only', () => {
  assert.ok(allowed('https://hooks.example.com:8443/x', 'hooks.example.com:8443'));
  assert.ok(allowed('http://hooks.example.com:8443/x', 'hooks.example.com:8443'));
  assert.equal(allowed('https://hooks.example.com/x', 'hooks.example.com:8443'), false);
  assert.equal(allowed('https://hooks.example.com:8444/x', 'hooks.example.com:8443'), false);
  assert.ok(allowed('https://hooks.example.com/x', 'other.example', 'hooks.example.com:443'));
});

test('hosts are compared exactly, in canonical form', () => {
  assert.ok(allowed('https://HOOKS.Example.COM/', 'hooks.example.com'));
  assert.ok(allowed('https://hooks.example.com/', 'Hooks.Example.Com'));
  for (const url of [
    'https://evil.hooks.example.com/',
    'https://hooks.example.com.evil.example/',
    'https://hooks.example.com./',
    'https://xhooks.example.com/',
  ]) {
    assert.equal(allowed(url, 'hooks.example.com'), false, url);
  }
  // Internationalised names match in punycode either way.
  assert.ok(allowed('https://bücher.example/', 'xn--bcher-kva.example'));
  assert.ok(allowed('https://xn--bcher-kva.example/', 'bücher.example'));
  // Other spellings of an IPv4 address are that address.
  assert.ok(allowed('http://2130706433:8080/', '127.0.0.1:8080'));
  assert.ok(allowed('http://0x7f.0.0.1:8080/', '127.0.0.1:8080'));
  assert.equal(allowed('http://2130706433:8080/', 'hooks.example.com'), false);
  // IPv6 literals, compressed either way; an IPv4-mapped form is not the IPv4 entry.
  assert.ok(allowed('http://[0:0:0:0:0:0:0:1]:8080/', '[::1]:8080'));
  assert.equal(allowed('http://[::ffff:127.0.0.1]:8080/', '127.0.0.1:8080'), false);
});

test('only http and https, no user name or password, a length cap, a valid URL', () => {
  const schemes = ['ftp://hooks.example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'ws://hooks.example.com/', 'gopher://x/'];
  for (const url of schemes) {
    assert.match(reason(url, 'hooks.example.com'), /must be http or https/, url);
  }
  assert.match(reason('https://user:pw@hooks.example.com/', 'hooks.example.com'), /user name or password/);
  assert.match(reason('https://user@hooks.example.com/', 'hooks.example.com'), /user name or password/);
  assert.match(reason('https://:pw@hooks.example.com/', 'hooks.example.com'), /user name or password/);
  for (const url of ['', 'hooks.example.com/x', '/relative', 'https://', 'http://[::1/', 'https://exa mple.com/']) {
    assert.match(reason(url, 'hooks.example.com'), /not a valid absolute URL/, url);
  }
  const long = `https://hooks.example.com/${'a'.repeat(MAX_WEBHOOK_URL_LENGTH)}`;
  assert.match(reason(long, 'hooks.example.com'), /longer than 2048/);
  assert.ok(allowed(`https://hooks.example.com/${'a'.repeat(MAX_WEBHOOK_URL_LENGTH - 27)}`, 'hooks.example.com'));
});

test('the checked URL is canonical and has no fragment; the kind says how its address is judged', () => {
  const check = checkWebhookUrl('HTTPS://Hooks.Example.com:443/a/../b?x=1#frag', config('hooks.example.com'));
  assert.ok(check.ok);
  assert.equal(check.url.href, 'https://hooks.example.com/b?x=1');
  assert.equal(check.kind, 'name');
  const ip = checkWebhookUrl('http://10.0.0.5:8080/', config('10.0.0.5:8080'));
  assert.ok(ip.ok && ip.kind === 'ip');
  const local = checkWebhookUrl('http://localhost:8080/', config('localhost:8080'));
  assert.ok(local.ok && local.kind === 'localhost');
});

test('the refusal never lists the allow-list', () => {
  const text = reason('https://attacker.example/', 'secret-internal.example', 'hooks.example.com');
  assert.doesNotMatch(text, /secret-internal|hooks\.example/);
});

test('allow-list entries: host, host:port, IPv4, bracketed IPv6; nothing else', () => {
  assert.deepEqual(parseAllowedHost('Hooks.Example.com'), { hostname: 'hooks.example.com', port: null, kind: 'name' });
  assert.deepEqual(parseAllowedHost(' hooks.example.com:8443 '), { hostname: 'hooks.example.com', port: 8443, kind: 'name' });
  assert.deepEqual(parseAllowedHost('10.0.0.5:80'), { hostname: '10.0.0.5', port: 80, kind: 'ip' });
  assert.deepEqual(parseAllowedHost('[0::1]:8080'), { hostname: '[::1]', port: 8080, kind: 'ip' });
  assert.deepEqual(parseAllowedHost('localhost'), { hostname: 'localhost', port: null, kind: 'localhost' });
  const bad = ['', 'https://hooks.example.com', 'hooks.example.com/path', '*.example.com', 'user@hooks.example.com'];
  bad.push('hooks.example.com:0', 'hooks.example.com:70000', 'hooks.example.com:', '::1', '[::1', 'a b');
  for (const entry of bad) {
    assert.equal(parseAllowedHost(entry), null, entry);
  }
});
