/**
 * A lab of hosts on one machine: network namespaces as hosts, bridges as
 * LANs, routers that NAT with nftables, and a "public" segment. Addresses
 * come from the benchmarking range 198.18.0.0/15 (public segment
 * 198.18.0.0/24, LAN `k` 198.19.k.0/24) and nothing links to the machine's
 * own network. Needs root, `ip` (iproute2) and, for NAT routers, `nft`.
 *
 * Everything a lab creates is removed by `close()` (or `await using`), also
 * after a failed test; namespaces left behind by a killed test process are
 * swept when the next lab starts.
 *
 * @example
 * ```ts ignore
 * await using lab = await Lab.create();
 * const relay = await lab.host("relay"); // on the public segment
 * const home = await lab.lan("home", { nat: "endpoint-independent" });
 * const a = await lab.host("a", home);
 * await a.exec("ping", "-c1", relay.address);
 * ```
 *
 * @module
 */
import { NodeProcess, type SpawnOptions } from "./process.ts";

/** How a router maps inside addresses to its public address. */
export type Nat =
  /** nftables `masquerade`: one public port per inside socket, whatever the destination. */
  | "endpoint-independent"
  /** nftables `masquerade random`: a new public port per destination (symmetric NAT). */
  | "symmetric";

/** One broadcast domain: a bridge in the lab's hub namespace. */
export interface Lan {
  /** The name given to {@linkcode Lab.lan}. */
  readonly name: string;
  /** The subnet prefix, `"198.19.<k>"` or `"198.18.0"` for the public segment. */
  readonly prefix: string;
  /** The router between this LAN and the public segment (undefined for the public segment). */
  readonly router?: Host;
  /** The NAT of the router. */
  readonly nat?: Nat;
}

/** Whether this process can build labs: root with `ip`; `nft` is needed for NAT routers. */
export function labSupport(): { ok: true } | { ok: false; reason: string } {
  try {
    if (Deno.uid() !== 0) return { ok: false, reason: "needs root (network namespaces)" };
  } catch {
    return { ok: false, reason: "needs --allow-sys to check for root" };
  }
  for (const tool of ["ip", "nft"]) {
    try {
      new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
    } catch {
      return { ok: false, reason: `needs \`${tool}\` (apt-get install iproute2 nftables)` };
    }
  }
  return { ok: true };
}

const decoder = new TextDecoder();

/** Runs a command; throws with its stderr when it fails. */
export async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${decoder.decode(out.stderr).trim()}`);
  }
  return decoder.decode(out.stdout);
}

const PREFIX = "mh";

async function sweepStale(): Promise<void> {
  const list = await run("ip", "netns", "list").catch(() => "");
  for (const line of list.split("\n")) {
    const m = new RegExp(`^(${PREFIX}(\\d+)-\\S+)`).exec(line);
    if (!m || m[2] === String(Deno.pid)) continue;
    let alive = true;
    try {
      Deno.statSync(`/proc/${m[2]}`);
    } catch {
      alive = false;
    }
    if (!alive) await run("ip", "netns", "del", m[1]).catch(() => {});
  }
}

let labs = 0;

/** A set of hosts, LANs and routers; see the module doc. */
export class Lab implements AsyncDisposable {
  /** The public segment (198.18.0.0/24): hosts here are reachable by every host. */
  readonly public: Lan;
  readonly #tag: string;
  readonly #hub: string;
  #namespaces: string[] = [];
  #processes = new Set<NodeProcess>();
  #lans = 0;
  #links = 0;
  #hosts = new Map<string, Host>();
  #next = new Map<string, number>();
  #closed = false;

  private constructor(tag: string) {
    this.#tag = tag;
    this.#hub = `${PREFIX}${Deno.pid}-${tag}hub`;
    this.public = { name: "public", prefix: "198.18.0" };
  }

  /** Creates an empty lab (after sweeping namespaces of dead test processes). */
  static async create(): Promise<Lab> {
    await sweepStale();
    const lab = new Lab(`${labs++}`);
    try {
      await lab.#netns(lab.#hub);
      await lab.#bridge(lab.public);
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  /** Every address a host of this lab may use, for `--allow-net` of processes in it. */
  get addresses(): string[] {
    return [...this.#hosts.values()].flatMap((h) => [h.address, ...(h.wan ? [h.wan] : [])]);
  }

  /**
   * A LAN behind a router on the public segment. The router's inside address
   * is `<prefix>.1`, its public one on 198.18.0.0/24; hosts of the LAN route
   * through it.
   */
  async lan(name: string, options: { nat: Nat }): Promise<Lan> {
    const k = ++this.#lans;
    const prefix = `198.19.${k}`;
    const lan = { name, prefix, nat: options.nat } as { -readonly [K in keyof Lan]: Lan[K] };
    await this.#bridge(lan);
    const router = await this.#attach(`${name}-r`, lan, "lan0", `${prefix}.1`);
    await router.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
    const wan = await this.#address(this.public);
    await this.#veth(router.ns, "wan0", this.public, wan);
    (router as { wan?: string }).wan = wan;
    await router.nft(natRules(options.nat === "symmetric"));
    lan.router = router;
    return lan;
  }

  /**
   * A host with one interface `eth0` on `lan` (default: the public segment),
   * `lo` up, a multicast route, and a default route through the LAN's router.
   */
  async host(name: string, lan: Lan = this.public): Promise<Host> {
    return await this.#attach(name, lan, "eth0", await this.#address(lan));
  }

  /**
   * Starts a Deno script in `host`'s namespace (`ip netns exec`); it is
   * killed when the lab closes if still running.
   */
  spawn(host: Host, script: string | URL, args: string[] = [], options: SpawnOptions = {}) {
    const allowNet = options.allowNet ??
      [
        "0.0.0.0",
        "[::]",
        "127.0.0.1",
        "224.0.0.251:5353",
        ...this.addresses,
      ];
    const p = NodeProcess.spawn(host.ns, script, args, { ...options, allowNet });
    this.#processes.add(p);
    p.exited.finally(() => this.#processes.delete(p));
    return p;
  }

  /** Stops every process and removes every namespace, bridge and link of the lab. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#processes].map((p) => p.kill()));
    for (const ns of this.#namespaces.reverse()) {
      await run("ip", "netns", "del", ns).catch(() => {});
    }
  }

  /** Same as {@linkcode Lab.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #netns(ns: string): Promise<void> {
    await run("ip", "netns", "add", ns);
    this.#namespaces.push(ns);
    await run("ip", "-n", ns, "link", "set", "lo", "up");
  }

  async #bridge(lan: Lan): Promise<void> {
    const br = this.#bridgeName(lan);
    await run("ip", "-n", this.#hub, "link", "add", br, "type", "bridge");
    await run("ip", "-n", this.#hub, "link", "set", br, "up");
  }

  #bridgeName(lan: Lan): string {
    return lan === this.public ? "br-pub" : `br${lan.prefix.split(".")[2]}`;
  }

  async #address(lan: Lan): Promise<string> {
    const n = (this.#next.get(lan.prefix) ?? (lan === this.public ? 9 : 1)) + 1;
    if (n > 254) throw new Error(`lan ${lan.name} is full`);
    this.#next.set(lan.prefix, n);
    return await Promise.resolve(`${lan.prefix}.${n}`);
  }

  async #attach(name: string, lan: Lan, ifname: string, address: string): Promise<Host> {
    if (this.#hosts.has(name)) throw new Error(`host ${name} exists`);
    const ns = `${PREFIX}${Deno.pid}-${this.#tag}${name}`;
    await this.#netns(ns);
    const hubSide = await this.#veth(ns, ifname, lan, address);
    const host = new Host(name, ns, address, lan, hubSide, this.#hub);
    this.#hosts.set(name, host);
    await run("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", ifname);
    if (lan.router) {
      await run("ip", "-n", ns, "route", "add", "default", "via", `${lan.prefix}.1`);
    }
    return host;
  }

  /** A veth pair: `ifname` in `ns` with `address`/24, the other end on `lan`'s bridge. */
  async #veth(ns: string, ifname: string, lan: Lan, address: string): Promise<string> {
    const hubSide = `v${++this.#links}`;
    await run(
      "ip",
      "link",
      "add",
      ifname,
      "netns",
      ns,
      "type",
      "veth",
      "peer",
      "name",
      hubSide,
      "netns",
      this.#hub,
    );
    await run("ip", "-n", this.#hub, "link", "set", hubSide, "master", this.#bridgeName(lan), "up");
    await run("ip", "-n", ns, "addr", "add", `${address}/24`, "dev", ifname);
    await run("ip", "-n", ns, "link", "set", ifname, "up", "multicast", "on");
    return hubSide;
  }
}

function natRules(random: boolean): string {
  // Forwarding only for traffic that starts inside or answers it; the public
  // side has no route to the LAN anyway. Mapping: `masquerade` keeps one
  // public port per inside socket (endpoint-independent), `random` picks a
  // new one per destination (symmetric).
  // Unsolicited packets to the router's own public address are dropped, as
  // home routers do: delivered locally, they would leave a conntrack entry
  // that makes masquerade pick another port for the inside socket that is
  // about to send to the same peer (and hole punching would then miss).
  return `table ip lab {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "wan0" ct state new drop
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" accept
  }
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "wan0" masquerade${random ? " random" : ""}
  }
}`;
}

/** A host: one network namespace. */
export class Host {
  /** The public address of a router host (on the public segment). */
  readonly wan?: string;

  /** @internal Created by {@linkcode Lab}. */
  constructor(
    /** The name given to the lab. */
    readonly name: string,
    /** The namespace (`ip netns exec <ns> ...`). */
    readonly ns: string,
    /** The address of `eth0` (or of `lan0` for a router). */
    readonly address: string,
    /** The LAN the host is on. */
    readonly lan: Lan,
    /** @internal The veth end on the LAN's bridge (what {@linkcode Host.link} toggles). */
    readonly hubSide: string,
    /** @internal The lab's hub namespace holding the bridges. */
    readonly hub: string,
  ) {}

  /** Runs a command inside the host's namespace; resolves with its stdout. */
  exec(cmd: string, ...args: string[]): Promise<string> {
    return run("ip", "netns", "exec", this.ns, cmd, ...args);
  }

  /** Loads an nftables ruleset in the host's namespace. */
  async nft(rules: string): Promise<void> {
    const file = await Deno.makeTempFile({ suffix: ".nft" });
    try {
      await Deno.writeTextFile(file, rules);
      await this.exec("nft", "-f", file);
    } finally {
      await Deno.remove(file).catch(() => {});
    }
  }

  /** Takes the host's link to its LAN down (`false`) or up (`true`). */
  async link(up: boolean): Promise<void> {
    await run("ip", "-n", this.hub, "link", "set", this.hubSide, up ? "up" : "down");
  }
}
