// Ticket admission to groups with JWT tickets of @mosaik/tee (EdDSA) carried
// in the discovery entries.
import assert from "node:assert/strict";
import {
  ChannelClosedError,
  CloseCode,
  decode,
  digest,
  digestBytes,
  Endpoint,
  networkId,
  SecretKey,
} from "@mosaik/transport";
import { dialRaw, eventually, quietPeriod, within } from "@mosaik/transport/testing";
import { JwtIssuer, jwtValidator, type TicketValidator } from "@mosaik/tee";
import { groupId, Groups } from "@mosaik/groups";
import { Counter } from "@mosaik/groups/testing";
import { discoverAll, freshNetwork, startNode, type TestNode } from "./_harness.ts";

function issuer(
  name: string,
  secret: string,
): { issuer: JwtIssuer; validator: (kind?: string) => TicketValidator } {
  const iss = JwtIssuer.fromSecret("EdDSA", digestBytes(digest(secret)), { issuer: name });
  return {
    issuer: iss,
    validator: (kind = "jwt") => jwtValidator({ keys: [iss.publicKey], issuer: name, kind }),
  };
}

const ALPHA = issuer("mosaik.test.jwt.issuer", "mosaik.test.jwt.secret");

function grant(node: TestNode, iss: JwtIssuer, kind = "jwt", expiresIn = 3_600_000): void {
  const t = iss.issue({
    peerId: node.endpoint.peerId,
    networkId: node.endpoint.networkId,
    ...(expiresIn > 0 ? { expiresIn } : { expiresAt: Date.now() - 60_000 }),
  });
  node.discovery.local.setTicket({ ...t, kind });
}

function join(node: TestNode, key: string, validators: TicketValidator[]) {
  return node.groups.join({
    key,
    stateMachine: new Counter(),
    config: { bootstrapExpect: 2 },
    requireTicket: validators,
  });
}

/** A quiet period long enough for refused bonds to have been tried (scaled by TIME_FACTOR). */
const settle = () => quietPeriod(1500);

Deno.test("only peers with valid JWT tickets bond", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1, 2, 3].map(() => startNode(net)));
  try {
    grant(n[0], ALPHA.issuer);
    grant(n[1], ALPHA.issuer);
    grant(n[2], ALPHA.issuer, "jwt", -1); // expired
    await discoverAll(n);
    const key = crypto.randomUUID();
    const v = ALPHA.validator();
    const g = n.map((x) => join(x, key, [v]));
    await within(eventually(() => g[0].bonds.includes(n[1].endpoint.peerId)), 8000);
    await within(eventually(() => g[1].bonds.includes(n[0].endpoint.peerId)), 8000);
    await settle();
    assert.deepEqual(g[0].bonds, [n[1].endpoint.peerId]);
    assert.deepEqual(g[1].bonds, [n[0].endpoint.peerId]);
    assert.equal(g[2].bonds.length, 0);
    assert.equal(g[3].bonds.length, 0);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("a bond ends when the peer's ticket is revoked", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1].map(() => startNode(net)));
  try {
    grant(n[0], ALPHA.issuer);
    grant(n[1], ALPHA.issuer);
    await discoverAll(n);
    const key = crypto.randomUUID();
    const v = ALPHA.validator();
    const [g0, g1] = n.map((x) => join(x, key, [v]));
    await within(eventually(() => g0.bonds.length === 1 && g1.bonds.length === 1), 8000);
    n[1].discovery.local.removeTicket("jwt");
    await n[0].discovery.syncWith(n[1].endpoint.address);
    await within(eventually(() => g0.bonds.length === 0), 8000);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("a key derived from the validator gives equal ids; members bond", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1].map(() => startNode(net)));
  try {
    const v = ALPHA.validator();
    const key = v.id!; // the validator's id as the group key
    assert.equal(ALPHA.validator().id, key);
    grant(n[0], ALPHA.issuer);
    grant(n[1], ALPHA.issuer);
    await discoverAll(n);
    const [g0, g1] = n.map((x) => join(x, key, [v]));
    assert.equal(g0.id, g1.id);
    await within(eventually(() => g0.bonds.length === 1 && g1.bonds.length === 1), 8000);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("different ticket requirements give different groups that never bond", async () => {
  const net = freshNetwork();
  const n = await Promise.all([0, 1].map(() => startNode(net)));
  try {
    await discoverAll(n);
    const key = crypto.randomUUID();
    const g0 = join(n[0], key, [ALPHA.validator()]);
    const g1 = join(n[1], key, []);
    assert.notEqual(g0.id, g1.id);
    assert.notEqual(
      groupId(key, "counter/v1", { tickInterval: 25, electionTicks: 12, heartbeatTicks: 2 }),
      g0.id,
    );
    await settle();
    assert.equal(g0.bonds.length, 0);
    assert.equal(g1.bonds.length, 0);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("several required validators: only holders of all tickets bond", async () => {
  const net = freshNetwork();
  const beta = issuer("issuer-beta", "secret-beta");
  const alpha = issuer("issuer-alpha", "secret-alpha");
  const n = await Promise.all([0, 1, 2, 3].map(() => startNode(net)));
  try {
    for (const x of [n[0], n[1], n[2]]) grant(x, alpha.issuer, "jwt-alpha");
    for (const x of [n[0], n[1], n[3]]) grant(x, beta.issuer, "jwt-beta");
    await discoverAll(n);
    const key = crypto.randomUUID();
    const vs = [alpha.validator("jwt-alpha"), beta.validator("jwt-beta")];
    const g = n.map((x) => join(x, key, vs));
    await within(eventually(() => g[0].bonds.length === 1 && g[1].bonds.length === 1), 8000);
    await settle();
    assert.deepEqual(g[0].bonds, [n[1].endpoint.peerId]);
    assert.deepEqual(g[1].bonds, [n[0].endpoint.peerId]);
    assert.equal(g[2].bonds.length, 0);
    assert.equal(g[3].bonds.length, 0);
  } finally {
    await Promise.all(n.map((x) => x.close()));
  }
});

Deno.test("a groups channel that never finishes its hello is closed: silent by the header timeout, stalled mid-hello with GroupTimeout", async () => {
  const net = networkId("groups-silent-hello");
  await using victim = await Endpoint.create({ networkId: net });
  await using _groups = new Groups(victim);
  await using attacker = await Endpoint.create({ networkId: net });
  // silent: the opener speaks first, so the channel is still opening when its time is up
  const channel = await attacker.open(victim.peerId, [victim.hostPort], "/mosaik/groups/1");
  const closed = await within(channel.recv().catch((e) => e), 5_000, "the victim closes it");
  assert.ok(closed instanceof ChannelClosedError, String(closed));
  assert.equal(closed.code, CloseCode.HandshakeTimeout);
  assert.equal(victim.resources().refused.headerTimeout, 1);
  // a hello frame that starts and never ends reaches the groups, which time it out
  const conn = await dialRaw(victim.peerId, victim.hostPort, SecretKey.generate(), net);
  const stream = await conn.createBidirectionalStream();
  const name = new TextEncoder().encode("/mosaik/groups/1");
  const start = new Uint8Array(4 + name.length + 5);
  new DataView(start.buffer).setUint32(0, name.length);
  start.set(name, 4);
  new DataView(start.buffer).setUint32(4 + name.length, 100); // a 100-byte hello, 1 byte sent
  await stream.writable.getWriter().write(start);
  const answer = await within(new Response(stream.readable).arrayBuffer(), 5_000, "closed");
  const frame = new Uint8Array(answer);
  assert.equal(decode<[number, string]>(frame.subarray(4))[0], CloseCode.GroupTimeout);
  await eventually(() => victim.resources().channels === 0);
  conn.close();
});
