/**
 * Test and bench helper: a loopback swarm of real `bittorrent-dht` nodes
 * (the WebTorrent Mainline implementation, running on Deno's node:dgram).
 *
 * @module
 */
import DHT from "npm:bittorrent-dht@11.0.12";
import { ed25519 } from "@noble/curves/ed25519.js";
import { type NetworkId, SecretKey } from "@mosaik/transport";
import {
  DhtNode,
  ErrorCode,
  KrpcError,
  RECORD_METHOD,
  Rendezvous,
  rendezvousKeys,
  signRecord,
} from "@mosaik/discovery/dht";

/** One bittorrent-dht instance (typed loosely: the package ships no types). */
// deno-lint-ignore no-explicit-any
export type BtDht = any;

/** A running swarm; `close()` destroys every node. */
export interface Swarm {
  nodes: BtDht[];
  /** `127.0.0.1:port` of every node. */
  addresses: string[];
  close(): Promise<void>;
}

/** The BEP 44 verify function bittorrent-dht needs for mutable items. */
export function btVerify(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  try {
    return ed25519.verify(sig, msg, pk);
  } catch {
    return false;
  }
}

/**
 * Creates one bittorrent-dht node on 127.0.0.1, bootstrapped from `bootstrap`
 * (or not at all), with `verify` for BEP 44 signatures.
 */
export function btNode(bootstrap: string[] | false, verify = btVerify): Promise<BtDht> {
  const dht = new DHT({ bootstrap, verify, host: "127.0.0.1" });
  return new Promise((resolve, reject) => {
    let listening = false, ready = false;
    const done = () => listening && ready && resolve(dht);
    dht.once("error", reject);
    dht.once("ready", () => {
      ready = true;
      done();
    });
    dht.listen(0, "127.0.0.1", () => {
      listening = true;
      done();
    });
  });
}

/** The `host:port` a bittorrent-dht node listens on. */
export function btAddress(dht: BtDht): string {
  return `127.0.0.1:${dht.address().port}`;
}

/** Starts `n` bittorrent-dht nodes that know each other (each bootstraps from earlier ones). */
export async function startSwarm(n: number): Promise<Swarm> {
  const nodes: BtDht[] = [await btNode(false)];
  const addresses = [btAddress(nodes[0])];
  // Grow in batches so each batch bootstraps from an already connected swarm.
  while (nodes.length < n) {
    const batch = Math.min(10, n - nodes.length);
    const seeds = addresses.slice(-8);
    const fresh = await Promise.all(Array.from({ length: batch }, () => btNode(seeds)));
    nodes.push(...fresh);
    addresses.push(...fresh.map(btAddress));
  }
  // A second pass so the first nodes learn about the later ones too.
  await Promise.all(
    nodes.slice(0, 10).map((d) =>
      new Promise<void>((resolve) =>
        d._bootstrap
          ? (d._rpc.populate(d._rpc.id, {
            q: "find_node",
            a: { id: d._rpc.id, target: d._rpc.id },
          }, () => resolve()))
          : resolve()
      )
    ),
  );
  return {
    nodes,
    addresses,
    close: () =>
      Promise.all(nodes.map((d) => new Promise<void>((r) => d.destroy(() => r())))).then(() => {}),
  };
}

/** Promise form of a bittorrent-dht callback API call. */
export function cb<T>(fn: (done: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => err ? reject(err) : resolve(value)));
}

/**
 * A rogue that knows the NetworkId attacks every rendezvous key: it serves
 * forged records (a victim's key with another key's signature), announces
 * `garbage` fake endpoints per storage node on every rendezvous infohash, and
 * publishes a valid record of its own key that points nowhere. Returns its
 * DHT node (close it when done).
 */
export async function rogueFlood(
  routers: string[],
  network: NetworkId,
  garbage = 150,
): Promise<DhtNode> {
  const rogue = await DhtNode.create({ hostname: "127.0.0.1", bootstrap: routers });
  await rogue.bootstrap();
  const { infohashes, salt } = rendezvousKeys(network);
  const victim = SecretKey.generate();
  const forged = signRecord(SecretKey.generate(), ["127.0.0.1:9"], Date.now(), salt);
  rogue.handle(
    RECORD_METHOD,
    (args) =>
      args.salt
        ? { k: victim.publicKey, seq: forged.seq, sig: forged.sig, v: forged.v }
        : new KrpcError(ErrorCode.Generic, "no"),
  );
  for (const ih of infohashes) {
    const { closest } = await rogue.getPeers(ih);
    await Promise.all(
      closest.filter((c) => c.token).map(async (c) => {
        for (let p = 0; p < garbage; p++) {
          await rogue.query(`${c.host}:${c.port}`, "announce_peer", {
            info_hash: ih,
            port: 30000 + p,
            implied_port: 0,
            token: c.token,
          }).catch(() => {});
        }
      }),
    );
    await rogue.announce(ih); // its own endpoint, which serves the forged record
  }
  const sybil = new Rendezvous(rogue, network, SecretKey.generate());
  sybil.setAddresses(["127.0.0.1:1"]);
  await sybil.publish();
  await sybil.announce();
  return rogue;
}
