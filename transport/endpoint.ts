/**
 * {@linkcode Endpoint}: a node's one QUIC endpoint, listening and dialing,
 * with pinned peer identities and protocol routing.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "./address.ts";
import type { Channel } from "./channel.ts";
import { Connection } from "./connection.ts";
import { abortable, delay } from "./async.ts";
import { ClosedError, ConnectError } from "./errors.ts";
import { logger } from "./log.ts";
import { type PeerId, SecretKey } from "./ids.ts";
import { CloseCode, closeCodeName, type CloseInfo, type NetworkId } from "./vocabulary.ts";
import { nodeCertificate } from "./_cert.ts";
import { type ResourceLimits, ResourceManager, type ResourceUsage } from "./limits.ts";
import type { DialOptions, EndpointOptions, EndpointStats } from "./endpoint_options.ts";
import { listeners } from "./_listeners.ts";
import { type HandleOptions, type ProtocolHandler, Router } from "./_router.ts";
import { ConnectionTable } from "./_connection_table.ts";
import {
  ALPN,
  checkProof,
  closeQuietly,
  closeRefused,
  dialerProof,
  handshakeDeadline,
  HandshakeRefused,
  type IncomingStreams,
  proveIdentity,
  refuseDatagrams,
  SeenProofs,
  type SpareStream,
  WarnOnce,
} from "./_handshake.ts";
import { dialRelayed, isRelayAddress } from "./relay.ts";
import { dialPinned, staggered } from "./_dial.ts";
import { type Bridge, isBridge } from "./_relay_bridge.ts";

const log = logger("transport");

export type { HandleOptions, ProtocolHandler } from "./_router.ts";
export type { DialOptions, EndpointOptions, EndpointStats } from "./endpoint_options.ts";

/**
 * A node's QUIC endpoint: one UDP port that listens and dials.
 *
 * Dialing a {@linkcode PeerId} is authenticated by TLS: the dialer trusts
 * only a certificate signed by that peer's key. The acceptor learns who
 * dialed from the dialer's first frame, a signed proof naming the acceptor,
 * the network, a timestamp and a nonce, sent without waiting for an answer
 * (the argument is in the transport's module doc), so forged and replayed
 * proofs, other networks and clocks too far apart are refused with a named
 * close code: the dialer's connection reports it as `accepted` and `closed`.
 * Protocols share one connection per peer; each channel starts with a header
 * frame naming its protocol (cheaper than one connection per ALPN, which
 * would cost a handshake and ~100 KiB each).
 *
 * @example
 * ```ts
 * import { Endpoint, networkId } from "@mosaik/transport";
 * const net = networkId("example");
 * await using a = await Endpoint.create({ networkId: net });
 * await using b = await Endpoint.create({ networkId: net });
 * a.handle("/echo/1", async (channel) => {
 *   for await (const m of channel) await channel.send(m);
 * });
 * const channel = await b.open(a.peerId, [a.hostPort], "/echo/1");
 * await channel.send("hi");
 * console.assert(await channel.recv() === "hi");
 * await channel.close();
 * ```
 */
export class Endpoint implements AsyncDisposable {
  /** This node's id. */
  readonly peerId: PeerId;
  /** The network this endpoint serves. */
  readonly networkId: NetworkId;
  /** This node's key. */
  readonly secretKey: SecretKey;
  /** The bound address, `host:port`. */
  readonly hostPort: string;
  /** Counters. */
  readonly stats: EndpointStats = { connectionsOpened: 0, refused: {}, unknownProtocol: 0 };
  /**
   * Test hook: `block(peer)` closes every connection to `peer` and refuses
   * new ones in both directions until `unblock(peer)`.
   */
  readonly faults: { block(peer: PeerId): void; unblock(peer: PeerId): void };

  #quic: Deno.QuicEndpoint;
  #listener: Deno.QuicListener;
  #options: Required<Omit<EndpointOptions, "secretKey" | "hostname" | "port" | "limits">>;
  #resources: ResourceManager;
  #frames: ConstructorParameters<typeof Connection>[2];
  #router: Router;
  #connections: ConnectionTable;
  #dials = new Map<PeerId, Promise<Connection>>();
  #blocked = new Set<PeerId>();
  #closing = false;
  #tasks = new Set<Promise<unknown>>();
  #quicOptions: Deno.QuicTransportOptions & { alpnProtocols: string[] };
  #onConnection = listeners<[Connection]>();
  #onDisconnect = listeners<[PeerId, CloseInfo]>();
  #cert: { cert: string; key: string };
  #otherNetwork = new WarnOnce(log, "check that both nodes use the same NetworkId");
  #clockSkew = new WarnOnce(log, "check that both nodes' clocks are set (NTP)");
  #seenProofs = new SeenProofs();
  /** Incoming connections whose dialer has not proven itself yet. */
  #proving = new Set<Promise<Deno.QuicConn>>();

  private constructor(options: EndpointOptions) {
    this.secretKey = options.secretKey ?? SecretKey.generate();
    this.peerId = this.secretKey.peerId;
    this.networkId = options.networkId;
    this.#options = {
      networkId: options.networkId,
      maxFrameSize: options.maxFrameSize ?? 8 << 20,
      handshakeTimeout: options.handshakeTimeout ?? 5_000,
      idleTimeout: options.idleTimeout ?? 10_000,
      idleConnectionTimeout: options.idleConnectionTimeout ?? 30_000,
      closeLinger: options.closeLinger ?? 25,
    };
    this.#connections = new ConnectionTable(this.#options.idleConnectionTimeout);
    this.#resources = new ResourceManager(options.limits);
    const { reserveFrame: reserve, trackIncoming } = this.#resources;
    this.#frames = { maxFrameSize: this.#options.maxFrameSize, reserve, trackIncoming };
    this.#router = new Router(this.#resources, this.#options.maxFrameSize, this.stats);
    this.#cert = nodeCertificate(this.secretKey);
    this.#quic = new Deno.QuicEndpoint({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
    });
    this.hostPort = formatHostPort(this.#quic.addr);
    this.#quicOptions = {
      alpnProtocols: [ALPN],
      maxIdleTimeout: this.#options.idleTimeout,
      keepAliveInterval: this.#options.idleTimeout / 4,
      maxConcurrentBidirectionalStreams: this.#resources.limits.maxStreamsPerConnection,
      // no protocol uses them, and what a remote sends on one nobody reads
      maxConcurrentUnidirectionalStreams: 0,
    };
    this.#listener = this.#quic.listen({ ...this.#cert, ...this.#quicOptions });
    this.faults = {
      block: (peer) => {
        this.#blocked.add(peer);
        for (const c of this.#connections.of(peer)) c.close(CloseCode.Blocked, "blocked");
      },
      unblock: (peer) => void this.#blocked.delete(peer),
    };
    this.#track(this.#acceptLoop());
  }

  /** Binds a new endpoint. Needs `--unstable-net` and `--allow-net` for the address. */
  static create(options: EndpointOptions): Promise<Endpoint> {
    return Promise.resolve(new Endpoint(options));
  }

  /** This node's address for others, `<peerId>@host:port`. */
  get address(): string {
    return `${this.peerId}@${this.hostPort}`;
  }

  /**
   * Registers the handler for incoming channels of `protocol`. With
   * `openerSpeaksFirst`, a channel reaches it once its first frame starts
   * to arrive (see {@linkcode HandleOptions}).
   */
  handle(protocol: string, handler: ProtocolHandler, options?: HandleOptions): void {
    this.#router.handle(protocol, handler, options);
  }

  /** The open connection to `peer`, if any: a direct one before a relayed one. */
  connection(peer: PeerId): Connection | undefined {
    return this.#connections.get(peer);
  }

  /** Peers with an open connection. */
  connectedPeers(): PeerId[] {
    return this.#connections.peers();
  }

  /** What remotes make this node hold now, and what its limits refused so far. */
  resources(): ResourceUsage {
    return this.#resources.usage(this.#connections.channels());
  }

  /** The limits in force (defaults merged with the options). */
  get limits(): Readonly<ResourceLimits> {
    return this.#resources.limits;
  }

  /** Calls `fn` for every new authenticated connection. Returns an unsubscribe function. */
  onConnection(fn: (connection: Connection) => void): () => void {
    return this.#onConnection.add(fn);
  }

  /** Calls `fn` when the last connection to a peer closes. Returns an unsubscribe function. */
  onDisconnect(fn: (peer: PeerId, info: CloseInfo) => void): () => void {
    return this.#onDisconnect.add(fn);
  }

  /**
   * The connection to `peer`: an open one (either direction) or a new one
   * dialed at the first of `addresses` (`host:port`) that answers.
   * Concurrent calls share one dial.
   */
  connect(
    peer: PeerId,
    addresses: readonly string[],
    options: DialOptions = {},
  ): Promise<Connection> {
    if (this.#closing) return Promise.reject(new ClosedError("endpoint is closed"));
    const open = this.connection(peer);
    if (open && (open.path === "direct" || !options.direct)) return Promise.resolve(open);
    if (options.direct) {
      return abortable(
        this.#dial(peer, addresses.filter((a) => !isRelayAddress(a))),
        options.signal,
      );
    }
    let dial = this.#dials.get(peer);
    if (!dial) {
      dial = this.#dial(peer, addresses).finally(() => this.#dials.delete(peer));
      this.#dials.set(peer, dial);
    }
    return abortable(dial, options.signal);
  }

  /** Connects to `peer` and opens a channel for `protocol`. */
  async open(
    peer: PeerId,
    addresses: readonly string[],
    protocol: string,
    options: DialOptions = {},
  ): Promise<Channel> {
    const connection = await this.connect(peer, addresses, options);
    return await abortable(connection.open(protocol), options.signal);
  }

  async #dial(peer: PeerId, addresses: readonly string[]): Promise<Connection> {
    if (peer === this.peerId) throw new ConnectError("refusing to dial self");
    if (this.#blocked.has(peer)) throw new ConnectError(`${peer} is blocked`, CloseCode.Blocked);
    if (addresses.length === 0) throw new ConnectError(`no address known for ${peer}`);
    try {
      return await staggered(addresses, (a, lost) => this.#attempt(peer, a, lost));
    } catch (e) {
      throw new ConnectError(`could not connect to ${peer} at ${addresses.join(", ")}`, undefined, {
        cause: e,
      });
    }
  }

  /**
   * Dials `peer` at one address; `lost()` says another address connected
   * first. Resolves once QUIC's handshake is done and the proof is sent: the
   * acceptor's verdict arrives as the connection's `accepted`.
   */
  async #attempt(peer: PeerId, address: string, lost: () => boolean): Promise<Connection> {
    let conn: Deno.QuicConn | undefined;
    let relayed: Bridge | undefined;
    const proof = dialerProof(this.secretKey, this.networkId, peer); // signed while QUIC dials
    try {
      if (isRelayAddress(address)) {
        relayed = await dialRelayed(this, peer, address, this.#options.handshakeTimeout);
      }
      const { hostname, port } = parseHostPort(relayed?.hostPort ?? address);
      const options = { ...this.#quicOptions, endpoint: this.#quic, hostname, port };
      conn = await dialPinned(peer, options, this.#options.handshakeTimeout, lost);
      refuseDatagrams(conn);
      if (lost()) throw new HandshakeRefused(CloseCode.Success, "another address answered first");
      const { verdict, spare } = await handshakeDeadline(
        proof.then((p) => proveIdentity(conn!, p, this.#frames)),
        this.#options.handshakeTimeout,
      );
      const quic = conn;
      const accepted = handshakeDeadline(verdict, this.#options.handshakeTimeout).catch((e) => {
        throw this.#refusal(e, quic, peer, address) ?? e;
      });
      this.#track(accepted);
      const connection = this.#register(conn, peer, relayed ? "relayed" : "direct", {
        accepted,
        spare,
      });
      if (relayed) connection.closed.finally(relayed.close);
      return connection;
    } catch (e) {
      relayed?.close();
      closeRefused(e, conn);
      throw e;
    }
  }

  /**
   * What a dialer reports when `conn` to `peer` failed with `e`: a
   * `ConnectError` with the close code this side closed with or the acceptor
   * sent (counted, and said once per address for another network or clock),
   * or `undefined` when there is no code.
   */
  #refusal(
    e: unknown,
    conn: Deno.QuicConn,
    peer: PeerId,
    address: string,
  ): ConnectError | undefined {
    const closeCode = closeRefused(e, conn) ??
      (e instanceof ConnectError ? e.closeCode : undefined);
    if (closeCode === undefined || closeCode === CloseCode.Success) return undefined;
    if (this.#warn(closeCode, address, `refused ${peer} at ${address}`, e)) {
      this.#refused(closeCode);
    }
    const why = e instanceof Error && e.message ? `: ${e.message}` : "";
    return new ConnectError(`${peer} refused: ${closeCodeName(closeCode)}${why}`, closeCode, {
      cause: e,
    });
  }

  // Acceptor side.
  async #acceptLoop(): Promise<void> {
    for (;;) {
      let incoming: Deno.QuicIncoming;
      try {
        incoming = await this.#listener.incoming();
      } catch {
        // The endpoint closed and handed over every queued attempt: only now may the listener
        // stop (Deno 2.9.6 panics on a packet for an attempt queued at a stopped listener).
        this.#listener.stop();
        return;
      }
      const release = this.#closing ? undefined : this.#resources.reserveHandshake();
      if (!release) {
        incoming.refuse();
        continue;
      }
      this.#track(this.#accept(incoming).finally(release));
    }
  }

  async #accept(incoming: Deno.QuicIncoming): Promise<void> {
    let conn: Deno.QuicConn | undefined;
    const accepting = Promise.try(() => incoming.accept());
    this.#proving.add(accepting);
    try {
      conn = await accepting;
      refuseDatagrams(conn);
      const dialer = await handshakeDeadline(
        checkProof(conn, this.secretKey, this.networkId, this.#seenProofs, this.#frames),
        this.#options.handshakeTimeout,
      );
      const from = formatHostPort(conn.remoteAddr);
      this.#register(conn, dialer.peer, isBridge(from) ? "relayed" : "direct", dialer);
      dialer.accept();
    } catch (e) {
      if (this.#closing) return; // close() closed it
      const code = e instanceof HandshakeRefused ? e.code : CloseCode.ProtocolViolation;
      this.#refused(code);
      const from = conn && formatHostPort(conn.remoteAddr);
      if (from) this.#warn(code, from, `refused a dialer at ${from}`, e);
      closeQuietly(conn, code, e instanceof Error ? e.message : String(e));
    } finally {
      this.#proving.delete(accepting);
    }
  }

  /** Says a refusal for another network or clock once per remote address; whether it was one. */
  #warn(code: number, from: string, what: string, e: unknown): boolean {
    if (code !== CloseCode.DifferentNetwork && code !== CloseCode.ClockSkew) return false;
    (code === CloseCode.ClockSkew ? this.#clockSkew : this.#otherNetwork).warn(from, what, e);
    return true;
  }

  #refused(code: number): void {
    const name = closeCodeName(code);
    this.stats.refused[name] = (this.stats.refused[name] ?? 0) + 1;
  }

  /** Takes a connection this side dialed (its verdict to come) or accepted (its streams so far). */
  #register(
    conn: Deno.QuicConn,
    peer: PeerId,
    path: "direct" | "relayed",
    how: { accepted: Promise<void>; spare: SpareStream } | { streams: IncomingStreams },
  ): Connection {
    const dialed = "accepted" in how ? how : undefined;
    const connection = new Connection(conn, peer, this.#frames, path, dialed);
    if (this.#closing) {
      connection.close(CloseCode.GracefulShutdown, "endpoint closed");
      throw new ClosedError("endpoint is closed");
    }
    if (this.#blocked.has(peer)) {
      connection.close(CloseCode.Blocked, "blocked");
      throw new HandshakeRefused(CloseCode.Blocked, `${peer} is blocked`);
    }
    const release = this.#resources.reserveConnection(peer);
    if (!release) {
      connection.close(CloseCode.ResourceLimit, "too many connections");
      throw new HandshakeRefused(CloseCode.ResourceLimit, `too many connections for ${peer}`);
    }
    const gone = this.#connections.add(connection);
    this.stats.connectionsOpened++;
    const incoming = "streams" in how
      ? how.streams
      : { held: [], reader: conn.incomingBidirectionalStreams.getReader() };
    this.#track(this.#router.serve(incoming, connection, (task) => this.#track(task)));
    this.#track(gone.then(({ info, last }) => {
      release();
      if (last) this.#onDisconnect.emit(peer, info);
    }));
    this.#onConnection.emit(connection);
    return connection;
  }

  #track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    task.catch(() => {}).finally(() => this.#tasks.delete(task));
  }

  /**
   * Closes every connection with `GracefulShutdown` (peers observe it), stops
   * listening and releases the port. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#connections.stop();
    const all = this.#connections.all();
    await Promise.all(all.map((c) => c.flush(250, this.#options.closeLinger)));
    for (const c of all) c.close(CloseCode.GracefulShutdown, "endpoint closed");
    // a dialer has its connection before we have its proof: it is told too,
    // once QUIC's handshake is done (a close during it carries no code)
    const proving = [...this.#proving];
    await Promise.race([Promise.allSettled(proving), delay(50)]);
    for (const accepting of proving) {
      accepting.then(
        (c) => closeQuietly(c, CloseCode.GracefulShutdown, "endpoint closed"),
        () => {},
      );
    }
    await Promise.race([Promise.all(all.map((c) => c.closed)), delay(50)]);
    this.#quic.close({ closeCode: CloseCode.GracefulShutdown, reason: "endpoint closed" });
    await Promise.allSettled([...this.#tasks]);
  }

  /** Same as {@linkcode Endpoint.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
