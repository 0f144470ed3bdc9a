/**
 * {@linkcode ObservedAddresses}: the address other peers see us at. Behind a
 * NAT it differs from every interface address; once enough peers on
 * distinct hosts agree on it, the node advertises it too (as libp2p's
 * identify and iroh's reflexive addresses do).
 *
 * @module
 */
import { dropOldest, parseHostPort } from "@mosaik/transport";
import { advertisedAddresses, isLocalOnly } from "./_addresses.ts";

/** Limits of {@linkcode ObservedAddresses}. */
export interface ObservedOptions {
  /** Distinct observer hosts that must agree. Default 2. */
  agree?: number;
  /** Observer hosts remembered (the oldest is forgotten first). Default 32. */
  maxObservers?: number;
  /** Milliseconds an observation counts. Default 10 minutes. */
  ttl?: number;
  /** Addresses advertised at most. Default 2. */
  maxCandidates?: number;
}

/** What peers report as our address, keyed by the observer's host. */
export class ObservedAddresses {
  #seen = new Map<string, { address: string; at: number }>();
  #agree: number;
  #maxObservers: number;
  #ttl: number;
  #maxCandidates: number;

  constructor(options: ObservedOptions = {}) {
    this.#agree = options.agree ?? 2;
    this.#maxObservers = options.maxObservers ?? 32;
    this.#ttl = options.ttl ?? 600_000;
    this.#maxCandidates = options.maxCandidates ?? 2;
  }

  /**
   * Records that the peer at `observer` (`host:port`) sees us at `observed`.
   * Loopback, link-local and malformed reports are ignored. Returns whether
   * {@linkcode ObservedAddresses.candidates} may have changed.
   */
  record(observer: string, observed: string, now = Date.now()): boolean {
    let from: string;
    try {
      from = parseHostPort(observer).hostname;
      const { hostname, port } = parseHostPort(observed);
      if (port === 0 || isLocalOnly(hostname) || !/^[0-9a-f.:]+$/i.test(hostname)) return false;
    } catch {
      return false;
    }
    const before = this.#seen.get(from);
    this.#seen.delete(from);
    this.#seen.set(from, { address: observed, at: now });
    dropOldest(this.#seen, this.#maxObservers);
    return before?.address !== observed;
  }

  /** Whether some current observation is none of `own` (so a NAT stands between). */
  translated(own: readonly string[], now = Date.now()): boolean {
    for (const { address, at } of this.#seen.values()) {
      if (now - at <= this.#ttl && !own.includes(address)) return true;
    }
    return false;
  }

  /** Addresses enough distinct observers agree on, most observed first. */
  candidates(now = Date.now()): string[] {
    const votes = new Map<string, number>();
    for (const [from, { address, at }] of this.#seen) {
      if (now - at > this.#ttl) {
        this.#seen.delete(from);
        continue;
      }
      votes.set(address, (votes.get(address) ?? 0) + 1);
    }
    return [...votes].filter(([, n]) => n >= this.#agree)
      .sort((a, b) => b[1] - a[1])
      .slice(0, this.#maxCandidates)
      .map(([a]) => a);
  }
}

/** Milliseconds between checks of the interface and observed addresses. */
export const ADDRESS_CHECK = 5_000;

/** Milliseconds before a host is asked for our address again on a new connection. */
export const ASK_INTERVAL = 60_000;

/** Hosts remembered as asked (the oldest is forgotten first). */
const MAX_ASKED = 256;

/**
 * This node's advertised addresses: the interface addresses of the bound
 * endpoint (re-read on every check, so they follow interface changes) and
 * the observed addresses enough peers agree on, or a fixed list; plus extra
 * ones (relayed addresses). Calls `onChange` when they change.
 */
export class OwnAddresses {
  #observed = new ObservedAddresses();
  #hostPort: string;
  #fixed: string[] | undefined;
  #extra: () => string[];
  #onChange: (addresses: string[]) => void;
  #last: string;
  #asked = new Map<string, number>();

  constructor(
    hostPort: string,
    given: { fixed?: string[]; extra?: () => string[] },
    onChange: (a: string[]) => void,
  ) {
    this.#hostPort = hostPort;
    this.#fixed = given.fixed;
    this.#extra = given.extra ?? (() => []);
    this.#onChange = onChange;
    this.#last = this.current().join(" ");
  }

  /** Whether observations count (the node was not given fixed addresses). */
  get learning(): boolean {
    return this.#fixed === undefined;
  }

  /**
   * Whether to ask the peer at `remote` (`host:port`) how it sees us now:
   * while learning, each host at most once per {@linkcode ASK_INTERVAL}
   * (observations are kept per host, so asking it again on every new
   * connection learns nothing: a node that joins through one host and
   * connects to the others there pinged each of them).
   */
  shouldAsk(remote: string, now = Date.now()): boolean {
    if (!this.learning) return false;
    let host: string;
    try {
      host = parseHostPort(remote).hostname;
    } catch {
      return false;
    }
    const last = this.#asked.get(host);
    if (last !== undefined && now - last < ASK_INTERVAL) return false;
    this.#asked.delete(host);
    this.#asked.set(host, now);
    dropOldest(this.#asked, MAX_ASKED);
    return true;
  }

  /** The addresses to advertise now. */
  current(): string[] {
    const own = this.#fixed ?? advertisedAddresses(this.#hostPort);
    const learned = this.#fixed ? [] : this.#observed.candidates();
    return [...new Set([...own, ...learned, ...this.#extra()])];
  }

  /** Whether peers see us at an address none of our interfaces has (we are behind a NAT). */
  get behindNat(): boolean {
    return this.#observed.translated(this.#fixed ?? advertisedAddresses(this.#hostPort));
  }

  /** Records what a pinged peer (`observer`) reported as our address, if anything. */
  observe({ observer, observed }: { observer: string; observed?: string }): void {
    if (this.learning && observed && this.#observed.record(observer, observed)) this.check();
  }

  /** Calls `onChange` if the addresses differ from the last ones. */
  check(): void {
    const now = this.current();
    const key = now.join(" ");
    if (key === this.#last) return;
    this.#last = key;
    this.#onChange(now);
  }
}
