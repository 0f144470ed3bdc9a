/**
 * The one logger of the workspace. Library code never writes to the console
 * directly: it asks {@linkcode logger} for a named subsystem ("transport",
 * "discovery", "dht", "streams", "groups", …) and logs through it.
 *
 * Warnings and errors are on by default; everything else is opt-in, either
 * with the environment variable `MOSAIK_LOG` (read once, needs `--allow-env`;
 * without the permission the defaults apply) or with
 * {@linkcode configureLogging}:
 *
 * ```sh
 * MOSAIK_LOG=discovery:debug,streams deno run app.ts   # a bare name means debug
 * MOSAIK_LOG=*:silent deno run app.ts                   # nothing at all
 * ```
 *
 * @module
 */

/** Log levels, from the most to the least verbose. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** One log line, as a {@linkcode LogSink} receives it. */
export interface LogRecord {
  /** Its level (never `"silent"`). */
  level: Exclude<LogLevel, "silent">;
  /** The subsystem that logged it, e.g. `"discovery"`. */
  subsystem: string;
  /** The message. */
  message: string;
  /** Extra values (errors, ids), as passed to the log call. */
  data: unknown[];
}

/** Where log records go. The default writes one line to stderr per record. */
export type LogSink = (record: LogRecord) => void;

/** A subsystem's logger, from {@linkcode logger}. */
export interface Logger {
  /** The subsystem name. */
  readonly subsystem: string;
  /** Whether records of `level` are written now (to skip building costly messages). */
  enabled(level: Exclude<LogLevel, "silent">): boolean;
  /** Detail for debugging. */
  debug(message: string, ...data: unknown[]): void;
  /** Normal events worth knowing. */
  info(message: string, ...data: unknown[]): void;
  /** Something is wrong or will not work as the user probably expects. */
  warn(message: string, ...data: unknown[]): void;
  /** A failure the library recovered from but the user should see. */
  error(message: string, ...data: unknown[]): void;
}

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions {
  /**
   * Levels per subsystem, in `MOSAIK_LOG` syntax (`"discovery:debug,streams"`)
   * or as an object (`{ "*": "warn", discovery: "debug" }`). Replaces the
   * levels set before.
   */
  levels?: string | Record<string, LogLevel>;
  /** Where records go; `false` silences everything. */
  sink?: LogSink | false;
}

const defaultSink: LogSink = (r) => {
  const line = `mosaik ${r.subsystem} ${r.level}: ${r.message}`;
  if (r.level === "error") console.error(line, ...r.data);
  else if (r.level === "warn") console.warn(line, ...r.data);
  else console.log(line, ...r.data);
};

let levels: Map<string, LogLevel> | undefined;
let sink: LogSink | false = defaultSink;

/** Parses `MOSAIK_LOG` syntax: comma-separated `name[:level]`; a bare name means debug. */
function parseLevels(text: string): Map<string, LogLevel> {
  const out = new Map<string, LogLevel>([["*", "warn"]]);
  for (const part of text.split(",")) {
    const [name, level = "debug"] = part.trim().split(":");
    if (!name) continue;
    if (!(level in RANK)) continue;
    out.set(name, level as LogLevel);
  }
  return out;
}

function currentLevels(): Map<string, LogLevel> {
  if (levels) return levels;
  let env: string | undefined;
  try {
    env = Deno.env.get("MOSAIK_LOG");
  } catch {
    env = undefined; // no --allow-env: the defaults apply
  }
  levels = parseLevels(env ?? "");
  return levels;
}

function levelOf(subsystem: string): LogLevel {
  const map = currentLevels();
  return map.get(subsystem) ?? map.get("*") ?? "warn";
}

/**
 * Sets levels and the sink for every logger of the process.
 *
 * @example
 * ```ts
 * import { configureLogging, type LogRecord } from "@mosaik/transport";
 * const seen: LogRecord[] = [];
 * configureLogging({ levels: "*:info", sink: (r) => seen.push(r) });
 * configureLogging({ levels: "", sink: undefined }); // back to the defaults
 * ```
 */
export function configureLogging(options: LoggingOptions): void {
  if ("levels" in options) {
    const given = options.levels;
    levels = given === undefined
      ? undefined
      : typeof given === "string"
      ? parseLevels(given)
      : new Map([["*", "warn"], ...Object.entries(given)]);
  }
  if ("sink" in options) sink = options.sink ?? defaultSink;
}

/**
 * The logger of one subsystem.
 *
 * @example
 * ```ts
 * import { logger } from "@mosaik/transport";
 * const log = logger("example");
 * log.debug("only with MOSAIK_LOG=example");
 * ```
 */
export function logger(subsystem: string): Logger {
  const write = (level: Exclude<LogLevel, "silent">, message: string, data: unknown[]) => {
    if (sink === false || RANK[level] < RANK[levelOf(subsystem)]) return;
    try {
      sink({ level, subsystem, message, data });
    } catch {
      // a throwing sink must not break the caller
    }
  };
  return {
    subsystem,
    enabled: (level) => sink !== false && RANK[level] >= RANK[levelOf(subsystem)],
    debug: (message, ...data) => write("debug", message, data),
    info: (message, ...data) => write("info", message, data),
    warn: (message, ...data) => write("warn", message, data),
    error: (message, ...data) => write("error", message, data),
  };
}
