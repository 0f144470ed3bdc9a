/**
 * Iterative lookups (BEP 5): up to alpha queries in flight to the closest
 * not-yet-queried candidates, ending when the k closest live candidates have
 * all answered; and storing at the nodes a lookup found.
 *
 * @module
 */
import { equalBytes, parseHostPort, Timers } from "@mosaik/transport";
import type { BDict, BInput } from "./bencode.ts";
import { isCompliant } from "./bep42.ts";
import { type CompactNode, decodeNodes, KrpcError } from "./krpc.ts";
import type { Contact, DhtStats, LookupResult, Responder, StoreResult } from "./types.ts";

/** What a lookup needs from its node. */
export interface LookupContext {
  readonly id: Uint8Array;
  readonly k: number;
  readonly alpha: number;
  readonly timeout: number;
  readonly v6: boolean;
  readonly routers: readonly string[];
  readonly stats: DhtStats;
  /** Smoothed response time in ms. */
  rtt(): number;
  closed(): boolean;
  /** The contacts of the routing table closest to `target`. */
  closest(target: Uint8Array, n: number): Contact[];
  /** How many contacts the routing table holds. */
  size(): number;
  /** Sends one query (no retry). */
  query(
    host: string,
    port: number,
    method: string,
    args: Record<string, BInput | undefined>,
  ): Promise<{ r: BDict }>;
  /** A known node did not answer. */
  failed(id: Uint8Array): void;
}

/** Called with each response; return false to end the lookup. */
export type OnResponse = (
  r: BDict,
  from: Responder,
  top: (n: number) => Responder[] | undefined,
) => boolean;

function distanceKey(id: Uint8Array | undefined, target: Uint8Array): string {
  if (!id) return "z"; // unknown id (a router): after every known one
  let s = "";
  for (let i = 0; i < 20; i++) s += (id[i] ^ target[i]).toString(16).padStart(2, "0");
  return s;
}

interface Candidate {
  host: string;
  port: number;
  id?: Uint8Array;
  key: string;
  state: "new" | "pending" | "ok" | "failed";
  /** Pending for longer than a few RTTs: no longer blocks the lookup. */
  slow?: boolean;
  responder?: Responder;
}

/**
 * Runs an iterative lookup of `target` with `method`. Nodes that fail BEP 42
 * rank after compliant ones; `onResponse` may end the lookup early.
 */
export function lookup(
  c: LookupContext,
  target: Uint8Array,
  method: string,
  args: Record<string, BInput>,
  onResponse?: OnResponse,
): Promise<LookupResult> {
  const candidates = new Map<string, Candidate>();
  const add = (host: string, port: number, id?: Uint8Array) => {
    const addr = `${host}:${port}`;
    if (candidates.has(addr) || candidates.size >= 500) return;
    if (id && equalBytes(id, c.id)) return;
    const rank = id && !isCompliant(id, host) ? "y" : "";
    candidates.set(addr, { host, port, id, key: rank + distanceKey(id, target), state: "new" });
  };
  for (const n of c.closest(target, c.k * 2)) add(n.host, n.port, n.id);
  if (c.size() < c.k) {
    for (const r of c.routers) {
      try {
        const { hostname, port } = parseHostPort(r);
        add(hostname, port);
      } catch { /* skip a malformed router entry */ }
    }
  }
  let queried = 0;
  let inflight = 0;
  let finished = false;
  const timers = new Timers();
  return new Promise((resolve) => {
    const window = () =>
      [...candidates.values()].filter((x) => x.state !== "failed" && !x.slow)
        .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
        .slice(0, c.k);
    // The n closest live candidates, when every one of them has answered.
    const top = (n: number) => {
      const w = window().slice(0, n);
      return w.every((x) => x.state === "ok") ? w.map((x) => x.responder!) : undefined;
    };
    const finish = () => {
      if (finished) return;
      finished = true;
      timers.close();
      const closest = window().filter((x) => x.responder).map((x) => x.responder!);
      resolve({ closest, queried });
    };
    const pump = () => {
      if (finished) return;
      if (c.closed()) return finish();
      const w = window();
      if (w.length > 0 && w.every((x) => x.state === "ok")) return finish();
      for (const x of w) {
        if (inflight >= c.alpha) break;
        if (x.state === "new") launch(x);
      }
      if (inflight === 0) finish();
    };
    const launch = (x: Candidate) => {
      x.state = "pending";
      inflight++;
      queried++;
      // A query slower than a few smoothed RTTs frees its slot and stops
      // blocking termination (a dead node costs ~4 RTTs, not the timeout).
      const slowAfter = Math.min(c.timeout, Math.max(30, 4 * c.rtt()));
      let freed = false;
      const stopSlow = timers.after(slowAfter, () => {
        if (x.state !== "pending") return;
        x.slow = true;
        freed = true;
        inflight--;
        pump();
      });
      c.query(x.host, x.port, method, args).then(({ r }) => {
        x.state = "ok";
        x.slow = false;
        const id = r.id as Uint8Array;
        if (!x.id) x.key = (isCompliant(id, x.host) ? "" : "y") + distanceKey(id, target);
        x.id = id;
        const token = r.token instanceof Uint8Array ? r.token : undefined;
        x.responder = { id, host: x.host, port: x.port, token, response: r };
        const compact = r[c.v6 ? "nodes6" : "nodes"];
        if (compact instanceof Uint8Array) {
          let nodes: CompactNode[] = [];
          try {
            nodes = decodeNodes(compact, c.v6);
          } catch {
            c.stats.malformed++;
          }
          for (const n of nodes) add(n.host, n.port, n.id);
        }
        if (onResponse && !finished && onResponse(r, x.responder, top) === false) finish();
      }, () => {
        x.state = "failed";
        if (x.id) c.failed(x.id);
      }).finally(() => {
        stopSlow();
        if (!freed) inflight--;
        pump();
      });
    };
    pump();
  });
}

/**
 * Sends `method` with each responder's token to the BEP 42-compliant
 * responders of a lookup; counts acknowledgements and error replies.
 */
export async function storeAt(
  c: LookupContext,
  closest: Responder[],
  method: string,
  args:
    | Record<string, BInput | undefined>
    | ((r: Responder) => Record<string, BInput | undefined>),
): Promise<StoreResult> {
  const targets = closest.filter((r) => r.token && isCompliant(r.id, r.host));
  const errors: KrpcError[] = [];
  let stored = 0;
  await Promise.all(targets.map(async (r) => {
    const a = typeof args === "function" ? args(r) : args;
    try {
      await c.query(r.host, r.port, method, { ...a, token: r.token });
      stored++;
    } catch (e) {
      if (e instanceof KrpcError) errors.push(e);
    }
  }));
  return { target: new Uint8Array(), stored, errors, queried: 0 };
}
