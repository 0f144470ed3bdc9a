/**
 * {@linkcode dhtBootstrap}: the Mainline DHT as a bootstrap source for
 * discovery.
 *
 * @module
 */
import { logger, parseHostPort } from "@mosaik/transport";
import type { BootstrapContext, BootstrapSource, SourceStatus } from "../bootstrap.ts";
import { parseIP } from "./bep42.ts";
import { DhtNode } from "./node.ts";
import { type Contact, PUBLIC_ROUTERS } from "./types.ts";
import { Rendezvous } from "./rendezvous.ts";

const log = logger("dht");

/** Options of {@linkcode dhtBootstrap}. */
export interface DhtBootstrapOptions {
  /** Routers to join through, `host:port`. Default {@linkcode PUBLIC_ROUTERS}. */
  bootstrap?: readonly string[];
  /** UDP port of the DHT node. Default 0 (any). */
  port?: number;
  /**
   * Address to bind. Default: the host the QUIC endpoint is bound to (else
   * of our first QUIC address) when it is an IP literal, else `"0.0.0.0"`
   * (an endpoint bound to `[::]` listens on every interface; the DHT speaks
   * IPv4).
   */
  hostname?: string;
  /** How many rendezvous infohashes. Default 4. */
  keys?: number;
  /** Contacts saved from an earlier run (see {@linkcode DhtNode.contacts}). */
  nodes?: readonly Contact[];
  /**
   * Milliseconds between rounds while the node has no peers: the first retry
   * after a quarter of it, then growing ×1.5 per round up to 10× it. Default 1000.
   */
  aggressiveInterval?: number;
  /** Milliseconds between rounds once the node has peers. Default 60 000. */
  relaxedInterval?: number;
  /** Milliseconds between announces and record publications once the node has peers. Default 600 000. */
  republishInterval?: number;
}

/** A running DHT bootstrap source; exposes its node and rendezvous for inspection. */
export interface DhtBootstrapSource extends BootstrapSource {
  /** The DHT node, once started (undefined before, or when binding was denied). */
  readonly node: DhtNode | undefined;
  /** The rendezvous, once started. */
  readonly rendezvous: Rendezvous | undefined;
  /** Completed discovery rounds. */
  readonly rounds: number;
}

/**
 * Finds peers of the same NetworkId through the Mainline DHT: joins through
 * the routers, then runs rendezvous rounds (announce, find endpoints, fetch
 * and verify their signed records, hand the addresses to discovery) and
 * republishes our record. Rounds are aggressive (every second, backing off
 * to ten) while the node has no peers and relaxed (every minute) once it
 * has. A denied network permission disables the source with a warning.
 *
 * @example
 * ```ts ignore
 * import { dhtBootstrap } from "@mosaik/discovery/dht";
 * const source = dhtBootstrap({ bootstrap: ["127.0.0.1:6881"] });
 * // Discovery calls source.start(ctx) and later source.close().
 * ```
 */
export function dhtBootstrap(options: DhtBootstrapOptions = {}): DhtBootstrapSource {
  const aggressive = options.aggressiveInterval ?? 1000;
  const relaxed = options.relaxedInterval ?? 60_000;
  const republish = options.republishInterval ?? 600_000;
  let node: DhtNode | undefined;
  let rendezvous: Rendezvous | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  let rounds = 0;
  let lastPublish = 0;
  let delay = aggressive / 4 / 1.5; // the first retry comes after a quarter interval
  let wasAlone = true;
  let status: SourceStatus = { state: "starting" };
  const routers = options.bootstrap ?? PUBLIC_ROUTERS;

  /** Running once the table holds anyone; unreachable (said once) while it stays empty. */
  function judge(dht: DhtNode): void {
    if (dht.size > 0) {
      status = { state: "running" };
      return;
    }
    if (status.state === "unreachable") return;
    const reason = dht.stats.received === 0 && dht.stats.sendErrors > 0
      ? `cannot send to the routers ${routers.join(", ")} (permission denied or no route)`
      : `no router answered (${routers.join(", ")})`;
    status = { state: "unreachable", reason };
    log.warn(`${reason}; peers must come from other sources (mdns, bootstrap)`);
  }

  async function round(ctx: BootstrapContext): Promise<void> {
    if (!node || !rendezvous) return;
    if (node.size < 8) {
      await node.bootstrap();
      judge(node);
    }
    const alone = ctx.peerCount() === 0;
    const changed = rendezvous.setAddresses(ctx.localAddresses());
    const due = alone || changed || Date.now() - lastPublish >= republish;
    await rendezvous.discover({
      announce: due,
      onRecord: (record) => {
        for (const address of record.addresses) ctx.addPeer(`${record.peerId}@${address}`);
      },
    });
    if (due) {
      lastPublish = Date.now();
      await rendezvous.publish();
    }
    rounds++;
  }

  function schedule(ctx: BootstrapContext): void {
    if (closed || ctx.signal.aborted) return;
    const alone = ctx.peerCount() === 0;
    delay = !alone ? relaxed : wasAlone ? Math.min(delay * 1.5, aggressive * 10) : aggressive / 4;
    wasAlone = alone;
    const jitter = Math.random() * delay / 3;
    timer = setTimeout(() => {
      timer = undefined;
      running = round(ctx).catch(() => {}).finally(() => schedule(ctx));
    }, delay + jitter);
  }

  const source: DhtBootstrapSource = {
    name: "dht",
    get node() {
      return node;
    },
    get rendezvous() {
      return rendezvous;
    },
    get rounds() {
      return rounds;
    },
    status: () => status,
    async start(ctx: BootstrapContext): Promise<void> {
      const bound = ctx.listenAddress ?? ctx.localAddresses()[0];
      let hostname = options.hostname;
      if (!hostname) {
        const host = bound ? safeHost(bound) : undefined;
        hostname = host && host !== "::" && parseIP(host) ? host : "0.0.0.0";
      }
      try {
        node = await DhtNode.create({
          hostname,
          port: options.port,
          bootstrap: routers,
          nodes: options.nodes,
        });
      } catch (e) {
        const reason = `cannot bind UDP ${hostname}:${options.port ?? 0}`;
        status = { state: "disabled", reason: `${reason}: ${e instanceof Error ? e.message : e}` };
        log.warn(`disabled, ${reason}`, e);
        return;
      }
      rendezvous = new Rendezvous(node, ctx.networkId, ctx.secretKey, { keys: options.keys });
      ctx.signal.addEventListener("abort", () => void source.close(), { once: true });
      running = round(ctx).catch(() => {}).finally(() => schedule(ctx));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await node?.close();
      await running;
    },
  };
  return source;
}

function safeHost(address: string): string | undefined {
  try {
    return parseHostPort(address).hostname;
  } catch {
    return undefined;
  }
}
