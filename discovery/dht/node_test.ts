import assert from "node:assert/strict";
import { SecretKey, toHex } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { encodeBencode } from "./bencode.ts";
import { mutableTarget, signItem } from "./bep44.ts";
import { ErrorCode, KrpcError } from "./krpc.ts";
import { DhtNode } from "./node.ts";

async function pair() {
  const server = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [] });
  const client = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [server.address] });
  return {
    server,
    client,
    [Symbol.asyncDispose]: async () => void await Promise.all([client.close(), server.close()]),
  };
}

async function rejects(p: Promise<unknown>, code: number) {
  await assert.rejects(
    p,
    (e) => e instanceof KrpcError && e.code === code,
    `expected KRPC ${code}`,
  );
}

Deno.test("dht node: answers ping, find_node and unknown methods", async () => {
  await using nodes = await pair();
  const { server, client } = nodes;
  assert.deepEqual(await client.ping(server.address), server.id);
  assert.equal(await client.bootstrap(), 1);
  const r = await client.query(server.address, "find_node", { target: new Uint8Array(20) });
  assert.ok(r.nodes instanceof Uint8Array && r.nodes.length % 26 === 0);
  await rejects(client.query(server.address, "sample_everything"), ErrorCode.MethodUnknown);
  await rejects(
    client.query(server.address, "find_node", { target: new Uint8Array(3) }),
    ErrorCode.Protocol,
  );
});

Deno.test("dht node: put checks tokens, sizes, signatures, seq and cas", async () => {
  await using nodes = await pair();
  const { server, client } = nodes;
  const key = SecretKey.generate();
  const salt = new TextEncoder().encode("s");
  const target = mutableTarget(key.publicKey, salt);
  const { token } = await client.query(server.address, "get", { target });
  assert.ok(token instanceof Uint8Array);
  const put = (item: ReturnType<typeof signItem>, extra: Record<string, unknown> = {}) =>
    client.query(server.address, "put", {
      token: token as Uint8Array,
      k: item.k,
      seq: item.seq,
      sig: item.sig,
      v: item.v,
      salt: item.salt,
      ...extra as Record<string, Uint8Array | number>,
    }, { retries: 0 });

  await rejects(put(signItem(key, "x", 1, salt), { token: new Uint8Array(8) }), ErrorCode.Protocol);
  await rejects(put(signItem(key, "x".repeat(1000), 1, salt)), ErrorCode.ValueTooBig);
  await rejects(put(signItem(key, "x", 1, new Uint8Array(65))), ErrorCode.SaltTooBig);
  const forged = signItem(SecretKey.generate(), "x", 1, salt);
  await rejects(put({ ...forged, k: key.publicKey }), ErrorCode.InvalidSignature);

  await put(signItem(key, "v5", 5, salt));
  await rejects(put(signItem(key, "v4", 4, salt)), ErrorCode.SeqTooLow);
  await rejects(put(signItem(key, "other", 5, salt)), ErrorCode.SeqTooLow);
  await put(signItem(key, "v5", 5, salt)); // same seq, same value: a refresh
  await rejects(put(signItem(key, "v6", 6, salt), { cas: 4 }), ErrorCode.CasMismatch);
  await put(signItem(key, "v6", 6, salt), { cas: 5 });

  const got = await client.query(server.address, "get", { target });
  assert.equal(got.seq, 6);
  assert.deepEqual(got.v, new TextEncoder().encode("v6"));
  // With seq >= the stored one, the value is left out.
  const fresh = await client.query(server.address, "get", { target, seq: 6 });
  assert.equal(fresh.seq, 6);
  assert.equal(fresh.v, undefined);
  assert.ok(server.stats.invalidItems >= 1);
});

Deno.test("dht node: announce_peer needs a token bound to the sender and honours implied_port", async () => {
  await using nodes = await pair();
  const { server, client } = nodes;
  const infohash = crypto.getRandomValues(new Uint8Array(20));
  const { token } = await client.query(server.address, "get_peers", { info_hash: infohash });
  await rejects(
    client.query(server.address, "announce_peer", {
      info_hash: infohash,
      port: 7,
      token: new Uint8Array(8),
    }),
    ErrorCode.Protocol,
  );
  await client.query(server.address, "announce_peer", {
    info_hash: infohash,
    port: 7,
    implied_port: 1,
    token: token as Uint8Array,
  });
  const r = await client.getPeers(infohash);
  assert.deepEqual(r.peers, [`127.0.0.1:${client.port}`]);
});

Deno.test("dht node: a timed-out query rejects, and close fails pending queries", async () => {
  const node = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [] });
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const address = `127.0.0.1:${(silent.addr as Deno.NetAddr).port}`;
  try {
    await assert.rejects(node.query(address, "ping", {}, { timeout: 50, retries: 1 }), /timed out/);
    assert.equal(node.stats.timeouts, 2);
    const pending = assert.rejects(node.query(address, "ping", {}, { timeout: 5000 }), /closed/);
    await node.close();
    await pending;
    assert.ok(encodeBencode(1));
  } finally {
    silent.close();
    await node.close();
  }
});

Deno.test("dht node: a contact that stops answering is dropped after two failures", async () => {
  const server = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [] });
  const client = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [], timeout: 100 });
  try {
    client.addContact({ id: server.id, host: "127.0.0.1", port: server.port });
    assert.equal(client.size, 1);
    await server.close();
    await client.findNode(new Uint8Array(20));
    assert.equal(client.size, 1, "one failure is forgiven");
    await client.findNode(new Uint8Array(20));
    await eventually(() => client.size === 0, { message: "the silent contact was dropped" });
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("dht node: a restart joins through saved contacts without routers", async () => {
  const server = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [] });
  const first = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [server.address] });
  try {
    await first.bootstrap();
    const saved = first.contacts();
    await first.close();
    const again = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [], nodes: saved });
    try {
      assert.equal(again.size, 1);
      assert.deepEqual((await again.findNode(server.id)).closest[0].id, server.id);
    } finally {
      await again.close();
    }
  } finally {
    await first.close();
    await server.close();
  }
});

Deno.test("dht node: an IPv6 swarm (BEP 32 nodes6) looks up, announces and stores items", async () => {
  const nodes: DhtNode[] = [await DhtNode.create({ hostname: "::1", bootstrap: [] })];
  try {
    for (let i = 1; i < 12; i++) {
      const n = await DhtNode.create({ hostname: "::1", bootstrap: [nodes[0].address] });
      await n.bootstrap();
      nodes.push(n);
    }
    const client = nodes[11];
    assert.match(client.address, /^\[::1\]:\d+$/);
    const { closest } = await client.findNode(nodes[3].id);
    assert.deepEqual(closest[0].id, nodes[3].id);
    assert.equal(closest[0].host, "::1");

    const infohash = crypto.getRandomValues(new Uint8Array(20));
    assert.ok((await nodes[5].announce(infohash, 4242)).stored >= 3);
    assert.deepEqual((await client.getPeers(infohash)).peers, ["[::1]:4242"]);

    const key = SecretKey.generate();
    assert.ok((await nodes[7].putMutable(signItem(key, "six", 1))).stored >= 3);
    const item = await client.getMutable(key.publicKey);
    assert.deepEqual(item?.v, new TextEncoder().encode("six"));
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
});

Deno.test("dht node: mutable get returns the newest item the closest nodes hold, checking few signatures", async () => {
  const nodes: DhtNode[] = [await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [] })];
  try {
    for (let i = 1; i < 16; i++) {
      const n = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: [nodes[0].address] });
      await n.bootstrap();
      nodes.push(n);
    }
    const client = nodes[nodes.length - 1];
    const holders = nodes.slice(0, -1);
    const key = SecretKey.generate();
    const target = mutableTarget(key.publicKey);
    const distance = (x: DhtNode) => toHex(x.id.map((b, i) => b ^ target[i]));
    const byDistance = [...holders].sort((a, b) => distance(a) < distance(b) ? -1 : 1);
    // The 3 closest hold seq 2, every other node a stale seq 1.
    for (const [i, node] of byDistance.entries()) {
      const item = i < 3 ? signItem(key, "new", 2) : signItem(key, "old", 1);
      const { token } = await client.query(node.address, "get", { target });
      await client.query(node.address, "put", {
        token: token as Uint8Array,
        k: item.k,
        seq: item.seq,
        sig: item.sig,
        v: item.v,
      });
    }
    const before = client.stats.signatureChecks;
    const got = await client.getMutable(key.publicKey);
    assert.equal(got?.seq, 2);
    assert.ok(
      client.stats.signatureChecks - before <= 2,
      `${client.stats.signatureChecks - before} checks`,
    );
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
});
