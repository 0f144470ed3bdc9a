/**
 * KRPC over one UDP socket: our queries with their transactions and
 * timeouts, and the receive loop that hands queries to the node.
 *
 * @module
 */
import { ClosedError, MosaikError, TimeoutError } from "@mosaik/transport";
import { type BDict, type BInput, encodeBencode } from "./bencode.ts";
import { formatIP, parseIP } from "./bep42.ts";
import {
  encodePeer,
  ErrorCode,
  KrpcError,
  type KrpcMessage,
  parseMessage,
  type QueryMessage,
} from "./krpc.ts";
import type { DhtStats } from "./types.ts";

/** What the socket tells its node. */
export interface RpcHandlers {
  /** Answers a query: return values, or an error to send back. */
  answer(msg: QueryMessage, host: string, port: number): BDict | KrpcError;
  /** A query of ours was answered by `id` at `host:port` (with its view of our address). */
  answered(id: Uint8Array, host: string, port: number, ip: Uint8Array | undefined): void;
  /** A query of the remote was answered (it may enter the routing table). */
  queried(msg: QueryMessage, host: string, port: number): void;
}

interface Pending {
  sent: number;
  host: string;
  port: number;
  strictAddress: boolean;
  resolve: (r: { r: BDict; ip?: Uint8Array }) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Canonical text of an IP address (so `::1` and `0:0::1` match); other hosts unchanged. */
export function normalizeHost(host: string): string {
  const ip = parseIP(host);
  return ip ? formatIP(ip) : host;
}

/** One UDP socket speaking KRPC. */
export class KrpcSocket {
  readonly #conn: Deno.DatagramConn;
  readonly #stats: DhtStats;
  readonly #handlers: RpcHandlers;
  readonly #maxInflight: number;
  readonly #pending = new Map<number, Pending>();
  #nextTid = Math.floor(Math.random() * 65536);
  #closed = false;
  #loop: Promise<void>;
  /** Our node id, sent with every message. */
  id: Uint8Array;
  /** Smoothed response time in ms (EWMA), for spotting slow lookup queries. */
  rtt: number;

  /** Starts receiving on `conn`. */
  constructor(
    conn: Deno.DatagramConn,
    id: Uint8Array,
    stats: DhtStats,
    handlers: RpcHandlers,
    options: { maxInflight: number; timeout: number },
  ) {
    this.#conn = conn;
    this.id = id;
    this.#stats = stats;
    this.#handlers = handlers;
    this.#maxInflight = options.maxInflight;
    this.rtt = options.timeout / 4;
    this.#loop = this.#receive();
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#conn.addr as Deno.NetAddr;
  }

  /**
   * Sends a query; resolves with its return values, rejects with
   * {@linkcode KrpcError} on an error reply or {@linkcode TimeoutError}.
   */
  query(
    host: string,
    port: number,
    method: string,
    args: Record<string, BInput | undefined>,
    timeout: number,
  ): Promise<{ r: BDict; ip?: Uint8Array }> {
    if (this.#closed) return Promise.reject(new ClosedError("DHT node closed"));
    host = normalizeHost(host);
    if (this.#pending.size >= this.#maxInflight) {
      return Promise.reject(new MosaikError("too many DHT queries in flight"));
    }
    let tid = this.#nextTid;
    while (this.#pending.has(tid)) tid = (tid + 1) & 0xffff;
    this.#nextTid = (tid + 1) & 0xffff;
    const t = new Uint8Array([tid >> 8, tid & 0xff]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(tid);
        this.#stats.timeouts++;
        reject(new TimeoutError(`${method} to ${host}:${port} timed out`));
      }, timeout);
      this.#pending.set(tid, {
        sent: performance.now(),
        host,
        port,
        strictAddress: parseIP(host) !== undefined,
        resolve,
        reject,
        timer,
      });
      this.#write(host, port, { t, y: "q", q: method, a: { ...args, id: this.id } });
    });
  }

  /** Closes the socket and fails pending queries with {@linkcode ClosedError}. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ClosedError("DHT node closed"));
    }
    this.#pending.clear();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    await this.#loop;
  }

  async #receive(): Promise<void> {
    // One small buffer per node (Deno allocates 64 KiB per receive otherwise);
    // KRPC datagrams stay far below it, larger ones are truncated and dropped.
    const buf = new Uint8Array(4096);
    for (;;) {
      let data: Uint8Array, addr: Deno.Addr;
      try {
        [data, addr] = await this.#conn.receive(buf);
        data = data.slice(); // parsed values keep references: copy out of the shared buffer
      } catch {
        if (this.#closed) return;
        continue; // e.g. ICMP port unreachable surfaced as an error
      }
      this.#stats.received++;
      const { hostname, port } = addr as Deno.NetAddr;
      const host = normalizeHost(hostname);
      let msg: KrpcMessage;
      try {
        msg = parseMessage(data);
      } catch {
        this.#stats.malformed++;
        continue;
      }
      try {
        this.#dispatch(msg, host, port);
      } catch {
        this.#stats.malformed++;
      }
    }
  }

  #dispatch(msg: KrpcMessage, host: string, port: number): void {
    if (msg.y === "q") return this.#answer(msg, host, port);
    if (msg.t.length !== 2) {
      this.#stats.unexpected++;
      return;
    }
    const tid = msg.t[0] << 8 | msg.t[1];
    const p = this.#pending.get(tid);
    if (!p || (p.strictAddress && (p.host !== host || p.port !== port))) {
      this.#stats.unexpected++;
      return;
    }
    this.#pending.delete(tid);
    clearTimeout(p.timer);
    this.rtt = 0.8 * this.rtt + 0.2 * (performance.now() - p.sent);
    if (msg.y === "e") return p.reject(new KrpcError(msg.code, msg.message));
    this.#handlers.answered(msg.r.id as Uint8Array, host, port, msg.ip);
    p.resolve({ r: msg.r, ip: msg.ip });
  }

  #write(host: string, port: number, message: BInput): void {
    const bytes = encodeBencode(message);
    this.#stats.sent++;
    this.#conn.send(bytes, { transport: "udp", hostname: host, port }).catch(() => {
      this.#stats.sendErrors++;
    });
  }

  #answer(msg: QueryMessage, host: string, port: number): void {
    this.#stats.answered++;
    let r: BDict | KrpcError;
    try {
      r = this.#handlers.answer(msg, host, port);
    } catch (e) {
      r = e instanceof KrpcError ? e : new KrpcError(ErrorCode.Server, "server error");
    }
    if (r instanceof KrpcError) {
      this.#write(host, port, {
        t: msg.t,
        y: "e",
        e: [r.code, r.message.replace(/^KRPC error \d+: /, "")],
      });
      return;
    }
    const ip = encodePeer(host, port);
    this.#write(host, port, { t: msg.t, y: "r", r: { ...r, id: this.id }, ip });
    if (!msg.ro) this.#handlers.queried(msg, host, port);
  }
}
