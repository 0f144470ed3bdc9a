import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { SecretKey, toHex } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import {
  DhtNode,
  encodeBencode,
  immutableTarget,
  mutableTarget,
  signItem,
} from "@mosaik/discovery/dht";
import { btAddress, btNode, cb, startSwarm } from "./dht_swarm.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "dht interop: bootstrap, lookups, BEP 44 both ways with 30 bittorrent-dht nodes",
  ...opts,
}, async (t) => {
  const swarm = await startSwarm(30);
  const node = await DhtNode.create({
    hostname: "127.0.0.1",
    bootstrap: swarm.addresses.slice(0, 3),
  });
  try {
    await t.step("bootstrap fills the routing table", async () => {
      const size = await node.bootstrap();
      assert.ok(size >= 8, `routing table has ${size} nodes`);
    });

    await t.step("find_node converges on the true closest nodes", async () => {
      const target = crypto.getRandomValues(new Uint8Array(20));
      const { closest, queried } = await node.findNode(target);
      assert.equal(closest.length, 8);
      // Ground truth: sort every swarm node by XOR distance.
      const all = swarm.nodes.map((d) => new Uint8Array(d.nodeId));
      const dist = (id: Uint8Array) => toHex(id.map((b, i) => b ^ target[i]));
      const truth = all.map(dist).sort().slice(0, 3);
      const ours = closest.map((c) => dist(c.id)).slice(0, 3);
      assert.deepEqual(ours, truth);
      assert.ok(queried <= 30, `queried ${queried}`);
    });

    await t.step("announce_peer and get_peers interoperate", async () => {
      const infohash = crypto.getRandomValues(new Uint8Array(20));
      const res = await node.announce(infohash, 4242);
      assert.ok(res.stored >= 3, `stored at ${res.stored}`);
      const bt = swarm.nodes[17];
      const peers: string[] = [];
      bt.on("peer", (p: { host: string; port: number }, ih: Buffer) => {
        if (Buffer.from(infohash).equals(ih)) peers.push(`${p.host}:${p.port}`);
      });
      await cb((done) => bt.lookup(Buffer.from(infohash), done));
      assert.ok(peers.includes("127.0.0.1:4242"), `bittorrent-dht saw ${peers}`);
      // And the other way: bittorrent-dht announces, we look up.
      const ih2 = crypto.getRandomValues(new Uint8Array(20));
      await cb((done) => swarm.nodes[5].announce(Buffer.from(ih2), 5151, done));
      const found = await node.getPeers(ih2);
      assert.ok(found.peers.includes("127.0.0.1:5151"), `we saw ${found.peers}`);
    });

    await t.step("immutable items: ours read by bittorrent-dht and theirs by us", async () => {
      const v = new TextEncoder().encode(`hello ${Math.random()}`);
      const put = await node.putImmutable(v);
      assert.ok(put.stored >= 3);
      const bt = swarm.nodes[9];
      const got = await cb<{ v: Buffer } | null>((done) =>
        bt.get(Buffer.from(put.target), { cache: false }, done)
      );
      assert.deepEqual(new Uint8Array(got!.v), v);

      const w = Buffer.from(`theirs ${Math.random()}`);
      const hash = await cb<Buffer>((done) => swarm.nodes[3].put({ v: w }, done));
      assert.equal(toHex(new Uint8Array(hash)), toHex(immutableTarget(new Uint8Array(w))));
      assert.deepEqual(await node.getImmutable(new Uint8Array(hash)), new Uint8Array(w));
    });

    await t.step(
      "mutable items with salt: ours read by bittorrent-dht and theirs by us",
      async () => {
        const key = SecretKey.generate();
        const salt = new TextEncoder().encode("mosaik");
        const item = signItem(key, new TextEncoder().encode("v1"), 1, salt);
        const put = await node.putMutable(item);
        assert.ok(put.stored >= 3);
        assert.deepEqual(put.target, mutableTarget(key.publicKey, salt));
        const bt = swarm.nodes[21];
        const got = await cb<{ v: Buffer; seq: number } | null>((done) =>
          bt.get(Buffer.from(put.target), { salt: Buffer.from(salt), cache: false }, done)
        );
        assert.equal(got!.seq, 1);
        assert.equal(Buffer.from(got!.v).toString(), "v1");

        // A newer seq wins; cas on the old seq is honoured.
        const item2 = signItem(key, new TextEncoder().encode("v2"), 2, salt);
        assert.ok((await node.putMutable(item2, { cas: 1 })).stored >= 3);
        const stale = signItem(key, new TextEncoder().encode("v3"), 3, salt);
        const refused = await node.putMutable(stale, { cas: 1 });
        assert.equal(refused.stored, 0);
        assert.ok(refused.errors.some((e) => e.code === 301));

        // bittorrent-dht writes, we read.
        const theirs = SecretKey.generate();
        await cb((done) =>
          swarm.nodes[11].put({
            k: Buffer.from(theirs.publicKey),
            seq: 7,
            v: Buffer.from("from bittorrent-dht"),
            sign: (buf: Uint8Array) => Buffer.from(theirs.sign(buf)),
          }, done)
        );
        const read = await node.getMutable(theirs.publicKey);
        assert.equal(read?.seq, 7);
        assert.equal(new TextDecoder().decode(read!.v as Uint8Array), "from bittorrent-dht");
        assert.ok(read!.queried < 30);
      },
    );

    await t.step("we answer bittorrent-dht queries (a node that only knows us)", async () => {
      const lonely = await btNode([node.address]);
      try {
        assert.ok(node.stats.answered > 0);
        const ih = crypto.getRandomValues(new Uint8Array(20));
        await cb((done) => swarm.nodes[2].announce(Buffer.from(ih), 6000, done));
        const peers: string[] = [];
        lonely.on("peer", (p: { host: string; port: number }) => peers.push(`${p.host}:${p.port}`));
        await cb((done) => lonely.lookup(Buffer.from(ih), done));
        assert.ok(peers.includes("127.0.0.1:6000"));
        await eventually(() => lonely.nodes.count() >= 8, {
          message: "lonely node learned the swarm through us",
        });
        assert.ok(btAddress(lonely));
      } finally {
        await new Promise<void>((r) => lonely.destroy(() => r()));
      }
    });
    assert.equal(encodeBencode(1).length, 3);
  } finally {
    await node.close();
    await swarm.close();
  }
});
