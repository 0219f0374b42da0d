// The npm Proxmox VE client "proxmox-api" (pinned in package.json) against zlh-sim's Proxmox API:
// nodes, cluster resources, a clone and its task, a container's config read and written, its
// interfaces once running (a DHCP lease), and the failures as the library surfaces them — a bad
// parameter (400 naming it), a locked container (500 "CT is locked (backup)"), a failed task and a
// wrong token. Usage: node proxmox_client.mjs http://127.0.0.1:PORT — exit 0 when every check
// passed, else 1 with what failed.
import assert from 'node:assert/strict';

import proxmoxApi from 'proxmox-api';

import {check} from './checks.mjs';

const arg = process.argv[2];
if (!arg) {
  console.error('usage: node proxmox_client.mjs ZLH_SIM_URL');
  process.exit(2);
}
const sim = new URL(arg);
const where = {host: sim.hostname, port: Number(sim.port), schema: 'http', queryTimeout: 10000};
const pve = proxmoxApi({...where, tokenID: 'zlh@pve!zlh', tokenSecret: '00000000-0000-0000-0000-00000000517e'});
const ct = pve.nodes.$('pve2').lxc.$(101);

// zlh-sim's own control routes (faults, locks).
async function simPost(path, body) {
  const r = await fetch(`${sim.origin}${path}`, {method: 'POST', body: JSON.stringify(body)});
  assert.equal(r.status, 200, `${path}: ${await r.text()}`);
}

// The library's error for `call`, which must fail: its message.
async function refusal(call) {
  try {
    await call();
  } catch (e) {
    return e.message;
  }
  assert.fail('the call succeeded');
}

// The status of task `upid` once it stopped (zlh-sim's tasks end at once; Proxmox's may run on).
async function finished(node, upid) {
  for (let poll = 0; poll < 100; ++poll) {
    const task = await pve.nodes.$(node).tasks.$(upid).status.$get();
    if (task.status === 'stopped') return task;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`task ${upid} still running`);
}

await check('nodes and cluster resources', async () => {
  const nodes = await pve.nodes.$get();
  assert.deepEqual(nodes.map((n) => n.node).sort(), ['pve1', 'pve2']);
  for (const n of nodes) {
    assert.equal(n.status, 'online');
    assert.equal(n.maxmem, 64 * 2 ** 30);
  }
  const guests = await pve.cluster.resources.$get({type: 'vm'});
  const template = guests.find((g) => g.vmid === 9000);
  assert.equal(template.template, 1);
  assert.equal(template.node, 'pve1');
});

await check('a clone is a task that ends OK', async () => {
  const upid = await pve.nodes.$('pve1').lxc.$(9000).clone.$post(
      {newid: 101, hostname: 'survival', full: true, target: 'pve2'});
  assert.match(upid, /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzclone:9000:zlh@pve!zlh:$/);
  const task = await finished('pve1', upid);
  assert.equal(task.exitstatus, 'OK');
  assert.equal(task.type, 'vzclone');
  const status = await ct.status.current.$get();
  assert.equal(status.status, 'stopped');
  assert.equal(status.name, 'survival');
});

await check('config put then get', async () => {
  const net0 = 'name=eth0,bridge=vmbr1,ip=dhcp,firewall=1';
  assert.equal(await ct.config.$put({cores: 2, memory: 4096, onboot: true, net0}), null);
  const config = await ct.config.$get();
  assert.equal(config.cores, 2);
  assert.equal(config.memory, 4096);
  assert.equal(config.onboot, 1);
  assert.equal(config.net0, net0);
  assert.equal(config.hostname, 'survival');
});

await check('interfaces: none while stopped, the DHCP lease once running', async () => {
  assert.equal(await ct.interfaces.$get(), null);
  assert.equal((await finished('pve2', await ct.status.start.$post())).exitstatus, 'OK');
  const interfaces = await ct.interfaces.$get();
  assert.deepEqual(interfaces.map((i) => i.name), ['lo', 'eth0']);
  const eth0 = interfaces[1];
  assert.equal(eth0.inet, '127.2.0.10/16');
  assert.match(eth0.hwaddr, /^bc:24:11:[0-9a-f:]{8}$/);
  assert.ok(eth0['ip-addresses'].some((a) => a['ip-address'] === '127.2.0.10' && a.prefix === 16));
});

await check('a bad parameter is a 400 that names it', async () => {
  const message = await refusal(() => ct.config.$put({cores: 'two'}));
  assert.match(message, /return Error 400 Parameter verification failed\.: /);
  assert.match(message, /"errors":\{"cores":"type check \('integer'\) failed - got 'two'"\}/);
  const clone = await refusal(() => pve.nodes.$('pve1').lxc.$(9000).clone.$post({newid: 42}));
  assert.match(clone, /"newid":"invalid format - value does not look like a valid VM ID\\n"/);
});

await check('a locked container refuses in Proxmox\'s words, then works', async () => {
  await simPost('/sim/faults', {lock: 'backup', vmid: 101});
  const message = await refusal(() => ct.config.$put({cores: 4}));
  assert.match(message, /return Error 500 CT is locked \(backup\): /);
  assert.match(message, /"message":"CT is locked \(backup\)\\n"/);
  assert.equal((await ct.status.current.$get()).lock, 'backup');
  // A stop meets the lock inside its task.
  const stop = await finished('pve2', await ct.status.stop.$post());
  assert.equal(stop.exitstatus, 'CT is locked (backup)');
  await simPost('/sim/faults', {lock: 'backup', vmid: 101, clear: true});
  assert.equal(await ct.config.$put({cores: 4}), null);
});

await check('a failed task ends with its exit status', async () => {
  await simPost('/sim/faults', {call: 'proxmox.reboot', mode: 'taskFailed'});
  const reboot = await finished('pve2', await ct.status.reboot.$post());
  assert.equal(reboot.status, 'stopped');
  assert.equal(reboot.exitstatus, "startup for container '101' failed");
  const already = await refusal(() => ct.status.start.$post());
  assert.match(already, /return Error 500 CT 101 already running: /);
});

await check('a wrong token is refused', async () => {
  const stranger = proxmoxApi({...where, tokenID: 'zlh@pve!zlh', tokenSecret: '00000000-0000-0000-0000-000000000bad'});
  const message = await refusal(() => stranger.nodes.$get());
  assert.match(message, /return Error 401 /);
});
