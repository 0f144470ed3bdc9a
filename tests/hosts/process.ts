/**
 * {@linkcode NodeProcess}: a Deno script running inside a network namespace,
 * talking JSON lines: it prints one JSON object per line on stdout and reads
 * one per line on stdin. {@linkcode NodeProcess.request} pairs a command
 * carrying an `id` with the reply carrying the same `id` (see `node.ts`).
 *
 * @module
 */
import { TimeoutError } from "@mosaik/transport";
import { timeFactor } from "@mosaik/transport/testing";

/**
 * The V8 flag of every node process, as the README tells users to run a
 * node: the young generation capped at 4 MiB semi-spaces (its default grows
 * to 16 MiB ones under a sustained allocation rate, up to 32 MiB more RSS
 * that a hostile peer can make a node pay; see the README's "Running a node").
 */
export const NODE_V8_FLAG = "--max-semi-space-size=4";

/** Options of {@linkcode NodeProcess.spawn}. */
export interface SpawnOptions {
  /** `--allow-net` list. Default (from a lab): its addresses, wildcard binds, loopback and mDNS. */
  allowNet?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Paths the script may write (`--allow-write`); default none. */
  allowWrite?: string[];
}

/** One JSON line printed by the process. */
export type Line = Record<string, unknown>;

let ids = 0;

/** A running Deno process in a namespace; see the module doc. */
export class NodeProcess {
  /** Every JSON line printed so far. */
  readonly lines: Line[] = [];
  /** Resolves with the exit status. */
  readonly exited: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #waiters = new Set<() => void>();
  #done = false;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    const reading = this.#read();
    this.exited = child.status.then(async (s) => {
      await reading;
      this.#done = true;
      for (const w of this.#waiters) w();
      return s;
    });
  }

  /** Starts `script` with `args` in namespace `ns` (`ip netns exec`). */
  static spawn(
    ns: string,
    script: string | URL,
    args: string[],
    options: SpawnOptions = {},
  ): NodeProcess {
    return NodeProcess.#start(["ip", "netns", "exec", ns], script, args, options);
  }

  /** Starts `script` with `args` in this process's namespace (loopback suites). */
  static local(script: string | URL, args: string[], options: SpawnOptions = {}): NodeProcess {
    return NodeProcess.#start([], script, args, options);
  }

  static #start(
    prefix: string[],
    script: string | URL,
    args: string[],
    options: SpawnOptions,
  ): NodeProcess {
    const path = script instanceof URL ? script.pathname : script;
    const command = [
      ...prefix,
      Deno.execPath(),
      "run",
      "--unstable-net",
      `--v8-flags=${NODE_V8_FLAG}`,
      `--allow-net=${(options.allowNet ?? []).join(",")}`,
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      ...(options.allowWrite?.length ? [`--allow-write=${options.allowWrite.join(",")}`] : []),
      path,
      ...args,
    ];
    const child = new Deno.Command(command[0], {
      args: command.slice(1),
      env: options.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new NodeProcess(child);
  }

  async #read(): Promise<void> {
    let buf = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const text = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(text));
        } catch {
          continue; // not a JSON line
        }
        for (const w of this.#waiters) w();
      }
    }
  }

  /**
   * Resolves with the first line from index `from` on (printed before or
   * after the call) for which `match` is true; each line is matched once.
   * Rejects when the process exits first or after `timeout` ms (scaled by
   * `TIME_FACTOR`).
   */
  waitFor(
    match: (line: Line) => boolean,
    timeout = 20_000,
    what = "line",
    from = 0,
  ): Promise<Line> {
    const ms = timeout * timeFactor();
    let next = from;
    return new Promise((resolve, reject) => {
      const check = () => {
        for (; next < this.lines.length; next++) {
          const line = this.lines[next];
          if (match(line)) return done(() => resolve(line));
        }
        if (this.#done) return done(() => reject(new Error(`process exited before ${what}`)));
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(
              new TimeoutError(
                `timed out after ${ms} ms: ${what} (its last lines: ${
                  JSON.stringify(this.lines.slice(-3))
                })`,
              ),
            )
          ),
        ms,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The operating system's id of the process. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Writes one JSON line to the process's stdin. */
  async send(message: Line): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
  }

  /**
   * Sends `{ id, op, ...args }` and resolves with the reply `{ id, ... }`;
   * rejects when the reply carries `error`.
   */
  async request(op: string, args: Line = {}, timeout = 20_000): Promise<Line> {
    const id = ++ids;
    await this.send({ ...args, id, op });
    const reply = await this.waitFor((l) => l.id === id, timeout, `reply to ${op}`);
    if (reply.error !== undefined) throw new Error(`${op}: ${reply.error}`);
    return reply;
  }

  /** Closes stdin (the script's cue to close gracefully) and waits for the exit. */
  async stop(): Promise<Deno.CommandStatus> {
    await this.#stdin.close().catch(() => {});
    return await this.exited;
  }

  /** Kills the process (SIGKILL) unless it already exited, and waits for it. */
  async kill(): Promise<void> {
    if (!this.#done) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }
    await this.exited.catch(() => {});
  }
}
