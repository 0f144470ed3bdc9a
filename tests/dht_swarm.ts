/**
 * Test and bench helper: a loopback swarm of real `bittorrent-dht` nodes
 * (the WebTorrent Mainline implementation, running on Deno's node:dgram).
 *
 * @module
 */
import DHT from "bittorrent-dht";
import { ed25519 } from "@noble/curves/ed25519.js";

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

/** Creates one bittorrent-dht node on 127.0.0.1, bootstrapped from `bootstrap` (or not at all). */
export function btNode(bootstrap: string[] | false): Promise<BtDht> {
  const dht = new DHT({ bootstrap, verify: btVerify, host: "127.0.0.1" });
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
