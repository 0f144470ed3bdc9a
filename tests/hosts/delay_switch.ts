/**
 * A switch with delay on the wire, for a kernel without `netem`: every host
 * is a network namespace whose only interface (`eth0`, 198.18.1.0/24) is a
 * TAP device; a forwarder process in the switch's namespace
 * (`_delay_forwarder.ts`, libc through Deno FFI) holds the other end of
 * every TAP and passes each Ethernet frame to the right port after the delay
 * of its path, with optional jitter and loss. The packets are real; the
 * programs under test see the delay only as the network's.
 *
 * The one-way delay from host a to host b is `delay(a) + delay(b)` (each
 * link's delay, see {@linkcode DelaySwitch.link}) unless a pair delay is set
 * ({@linkcode DelaySwitch.pair}); RTT is twice that. Needs root and
 * `/dev/net/tun`; namespaces are named like the lab's (`mh<pid>-...`), so a
 * lab sweeps those a killed test left behind.
 *
 * @example
 * ```ts ignore
 * await using sw = await DelaySwitch.create(["a", "b"]);
 * await sw.link("b", { delay: 10 }); // a ⇄ b: 20 ms round trip
 * const node = sw.spawn(sw.host("a"), "./node.ts");
 * ```
 *
 * @module
 */
import { run } from "./lab.ts";
import { NodeProcess, type SpawnOptions } from "./process.ts";

/** A host behind the switch. */
export interface SwitchHost {
  /** The name given to {@linkcode DelaySwitch.create}. */
  readonly name: string;
  /** Its port on the switch. */
  readonly port: number;
  /** Its network namespace. */
  readonly ns: string;
  /** The address of its `eth0`. */
  readonly address: string;
}

/** Delay, jitter (both ms, one way) and loss (0..1) of a host's link. */
export interface LinkShape {
  /** One-way delay in ms. Default 0. */
  delay?: number;
  /** Uniform jitter of ± this many ms. Default 0. */
  jitter?: number;
  /** Probability that a frame through this link is lost. Default 0. */
  loss?: number;
}

/** Whether this process can build a delay switch: root and `/dev/net/tun`. */
export function delaySwitchSupport(): { ok: true } | { ok: false; reason: string } {
  if (Deno.uid() !== 0) return { ok: false, reason: "needs root (network namespaces)" };
  // Deno grants access to /dev only with --allow-all; the forwarder opens the
  // device with its own permissions, so ask `test` whether it is there.
  const tun = new Deno.Command("test", { args: ["-c", "/dev/net/tun"] }).outputSync();
  return tun.success ? { ok: true } : { ok: false, reason: "needs /dev/net/tun" };
}

const FORWARDER = new URL("./_delay_forwarder.ts", import.meta.url).pathname;
let switches = 0;
let ids = 0;

/** A switch and its hosts; see the module doc. */
export class DelaySwitch implements AsyncDisposable {
  /** The hosts, in port order. */
  readonly hosts: readonly SwitchHost[];
  #namespaces: string[];
  #forwarder: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #replies = new Map<number, () => void>();
  #processes = new Set<NodeProcess>();
  #closed = false;

  private constructor(hosts: SwitchHost[], namespaces: string[], forwarder: Deno.ChildProcess) {
    this.hosts = hosts;
    this.#namespaces = namespaces;
    this.#forwarder = forwarder;
    this.#stdin = forwarder.stdin.getWriter();
  }

  /** Builds the switch namespace, its forwarder and one host per name. */
  static async create(names: string[]): Promise<DelaySwitch> {
    const k = switches++;
    const base = `mh${Deno.pid}-ds${k}`;
    const namespaces: string[] = [];
    const netns = async (ns: string) => {
      await run("ip", "netns", "add", ns);
      namespaces.push(ns);
      await run("ip", "-n", ns, "link", "set", "lo", "up");
    };
    let forwarder: Deno.ChildProcess | undefined;
    try {
      await netns(`${base}sw`);
      const taps = names.map((_, i) => `ds${k}p${i}`);
      forwarder = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          `${base}sw`,
          Deno.execPath(),
          "run",
          "--allow-ffi",
          FORWARDER,
          ...taps,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines = forwarder.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const first = await lines.read();
      if (!first.value?.includes('"ready"')) throw new Error("the delay forwarder did not start");
      const hosts: SwitchHost[] = [];
      for (const [i, name] of names.entries()) {
        const ns = `${base}${name}`;
        await netns(ns);
        await run("ip", "-n", `${base}sw`, "link", "set", taps[i], "netns", ns);
        await run("ip", "-n", ns, "link", "set", taps[i], "name", "eth0");
        const address = `198.18.1.${10 + i}`;
        await run("ip", "-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
        await run("ip", "-n", ns, "link", "set", "eth0", "up");
        hosts.push({ name, port: i, ns, address });
      }
      const sw = new DelaySwitch(hosts, namespaces, forwarder);
      sw.#read(lines, first.value.slice(first.value.indexOf("\n") + 1));
      return sw;
    } catch (e) {
      try {
        forwarder?.kill("SIGKILL");
      } catch { /* exited */ }
      for (const ns of namespaces.reverse()) await run("ip", "netns", "del", ns).catch(() => {});
      throw e;
    }
  }

  async #read(lines: ReadableStreamDefaultReader<string>, rest: string): Promise<void> {
    let buf = rest;
    for (;;) {
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const { id } = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        this.#replies.get(id)?.();
        this.#replies.delete(id);
      }
      const { value, done } = await lines.read().catch(() => ({ value: "", done: true }));
      if (done) return;
      buf += value;
    }
  }

  async #command(cmd: Record<string, unknown>): Promise<void> {
    const id = ++ids;
    const replied = new Promise<void>((r) => this.#replies.set(id, r));
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify({ ...cmd, id }) + "\n"));
    await replied;
  }

  /** The host named `name`. */
  host(name: string): SwitchHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** Shapes a host's link: every frame to or from it waits `delay` ± `jitter` ms, and is lost with `loss`. */
  async link(name: string, shape: LinkShape): Promise<void> {
    const { delay = 0, jitter = 0, loss = 0 } = shape;
    await this.#command({ op: "port", port: this.host(name).port, delay, jitter, loss });
  }

  /** Sets the one-way delay between two hosts (instead of the sum of their links'); `null` clears it. */
  async pair(a: string, b: string, delay: number | null): Promise<void> {
    await this.#command({ op: "pair", a: this.host(a).port, b: this.host(b).port, delay });
  }

  /** Starts a Deno script in a host's namespace (see {@linkcode NodeProcess}); killed on close. */
  spawn(
    host: SwitchHost,
    script: string | URL,
    args: string[] = [],
    options: SpawnOptions = {},
  ): NodeProcess {
    const allowNet = options.allowNet ?? ["0.0.0.0", ...this.hosts.map((h) => h.address)];
    const p = NodeProcess.spawn(host.ns, script, args, { ...options, allowNet });
    this.#processes.add(p);
    p.exited.finally(() => this.#processes.delete(p));
    return p;
  }

  /** Stops the processes and the forwarder and removes every namespace. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#processes].map((p) => p.kill()));
    await this.#stdin.close().catch(() => {});
    await this.#forwarder.status;
    for (const ns of this.#namespaces.reverse()) {
      await run("ip", "netns", "del", ns).catch(() => {});
    }
  }

  /** Same as {@linkcode DelaySwitch.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
