// Cloudflare's official TypeScript SDK (npm "cloudflare", pinned in package.json) against zlh-sim's
// DNS API: create, list (paged), duplicate, delete, and the errors, every answer parsed by the SDK.
// Usage: node cloudflare_client.mjs http://127.0.0.1:PORT — exit 0 when every check passed, else 1
// with what failed.
import assert from 'node:assert/strict';

import Cloudflare from 'cloudflare';

import {check} from './checks.mjs';

const sim = process.argv[2];
if (!sim) {
  console.error('usage: node cloudflare_client.mjs ZLH_SIM_URL');
  process.exit(2);
}
const baseURL = `${sim}/client/v4`;
const zone_id = 'zlh';  // zlh-sim's zone "play.example"
const cf = new Cloudflare({apiToken: 'sim', baseURL, maxRetries: 0});

// The SDK's error for `call`, which must fail; its status and Cloudflare's first error code.
async function refusal(call) {
  try {
    await call();
  } catch (e) {
    assert.ok(e instanceof Cloudflare.APIError, `not an API error: ${e}`);
    return {error: e, status: e.status, code: e.errors?.[0]?.code};
  }
  assert.fail('the call succeeded');
}

const created = [];

await check('token verify and zone', async () => {
  const token = await cf.user.tokens.verify();
  assert.equal(token.status, 'active');
  const zone = await cf.zones.get({zone_id});
  assert.equal(zone.name, 'play.example');
});

await check('create A and SRV records', async () => {
  for (const name of ['a', 'b', 'c']) {
    const r = await cf.dns.records.create(
        {zone_id, type: 'A', name: `${name}.play.example`, content: '198.51.100.4', ttl: 1, proxied: false});
    assert.equal(r.name, `${name}.play.example`);
    assert.equal(r.content, '198.51.100.4');
    assert.equal(r.proxied, false);
    assert.ok(r.id);
    created.push(r.id);
  }
  const srv = await cf.dns.records.create({
    zone_id, type: 'SRV', name: '_minecraft._tcp.a.play.example', ttl: 1,
    data: {priority: 0, weight: 5, port: 25565, target: 'a.play.example'},
  });
  assert.equal(srv.type, 'SRV');
  created.push(srv.id);
});

await check('list pages through every record', async () => {
  const first = await cf.dns.records.list({zone_id, per_page: 3});
  assert.deepEqual(first.result_info, {page: 1, per_page: 3, count: 3, total_count: 4, total_pages: 2});
  const seen = [];
  for await (const r of cf.dns.records.list({zone_id, per_page: 3})) seen.push(r.id);
  assert.deepEqual(seen.sort(), [...created].sort());
  const byName = [];
  for await (const r of cf.dns.records.list({zone_id, type: 'A', name: {exact: 'b.play.example'}})) {
    byName.push(r.name);
  }
  assert.deepEqual(byName, ['b.play.example']);
});

await check('duplicate is refused with Cloudflare error 81058', async () => {
  const r = await refusal(() => cf.dns.records.create(
      {zone_id, type: 'A', name: 'a.play.example', content: '198.51.100.4', ttl: 1, proxied: false}));
  assert.ok(r.error instanceof Cloudflare.BadRequestError);
  assert.equal(r.status, 400);
  assert.equal(r.code, 81058);
});

await check('delete, then delete again is 81044', async () => {
  for (const id of created) {
    const r = await cf.dns.records.delete(id, {zone_id});
    assert.equal(r.id, id);
  }
  const again = await refusal(() => cf.dns.records.delete(created[0], {zone_id}));
  assert.ok(again.error instanceof Cloudflare.NotFoundError);
  assert.equal(again.code, 81044);
  const left = await cf.dns.records.list({zone_id});
  assert.equal(left.result.length, 0);
});

await check('a wrong token is refused in Cloudflare\'s words', async () => {
  const stranger = new Cloudflare({apiToken: 'not-the-token', baseURL, maxRetries: 0});
  const records = await refusal(() => stranger.dns.records.list({zone_id}));
  assert.ok(records.error instanceof Cloudflare.AuthenticationError);
  assert.equal(records.code, 10000);
  const zone = await refusal(() => stranger.zones.get({zone_id}));
  assert.ok(zone.error instanceof Cloudflare.PermissionDeniedError);
  assert.equal(zone.code, 9109);
  const verify = await refusal(() => stranger.user.tokens.verify());
  assert.equal(verify.status, 401);
  assert.equal(verify.code, 1000);
});
