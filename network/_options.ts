// Checks Network.create's arguments before anything binds, so that a typo or a
// malformed value fails at once with a message saying what is expected,
// instead of being ignored or surfacing later as an obscure error.
import { DEFAULT_LIMITS, parseHostPort, parsePeerAddress, SecretKey } from "@mosaik/transport";
import { ConfigError } from "./errors.ts";
import type { NetworkOptions } from "./network.ts";

type Check = (value: unknown, name: string) => void;
type DiscoveryTuning = NonNullable<NetworkOptions["discovery"]>;

const HOST_PORT = `"host:port" such as "0.0.0.0:4433", "127.0.0.1:0" or "[::]:0"`;
const PEER_ADDRESS = `"<peerId>@host:port" (another node's \`local.address\`)`;

const show = (value: unknown) => {
  try {
    return typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value));
  } catch {
    return String(value);
  }
};
const fail = (name: string, expected: string, value: unknown): never => {
  throw new ConfigError(`option '${name}' must be ${expected}, got ${show(value)}`, name);
};

const isString: Check = (v, name) => {
  if (typeof v !== "string" || v === "") fail(name, "a non-empty string", v);
};
const isBoolean: Check = (v, name) => {
  if (typeof v !== "boolean") fail(name, "true or false", v);
};
const isHostPort: Check = (v, name) => {
  if (typeof v !== "string") fail(name, HOST_PORT, v);
  try {
    parseHostPort(v as string);
  } catch {
    fail(name, HOST_PORT, v);
  }
};
const listOf = (item: Check, expected: string): Check => (v, name) => {
  if (!Array.isArray(v)) fail(name, `an array of ${expected}`, v);
  (v as unknown[]).forEach((x, i) => item(x, `${name}[${i}]`));
};
const isPeerAddress: Check = (v, name) => {
  try {
    parsePeerAddress(v as string);
  } catch {
    fail(name, PEER_ADDRESS, v);
  }
};
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Every option of `NetworkOptions` with its check; the type makes the list complete. */
const OPTIONS: Record<keyof NetworkOptions, Check> = {
  listen: isHostPort,
  secretKey: (v, name) => {
    if (!(v instanceof SecretKey) && (typeof v !== "string" || v === "")) {
      fail(name, "a SecretKey or a non-empty seed string", v);
    }
  },
  bootstrap: listOf(isPeerAddress, PEER_ADDRESS),
  tags: listOf(isString, "tag names"),
  mdns: isBoolean,
  dht: (v, name) => {
    if (typeof v === "boolean") return;
    if (!isObject(v)) return fail(name, 'true, false or { bootstrap: ["host:port", …] }', v);
    checkKeys(v, { bootstrap: true }, name);
    if (v.bootstrap !== undefined) listOf(isHostPort, HOST_PORT)(v.bootstrap, `${name}.bootstrap`);
  },
  maxFrameSize: (v, name) => {
    if (!Number.isSafeInteger(v) || (v as number) <= 0) fail(name, "a positive integer", v);
  },
  limits: (v, name) => {
    if (!isObject(v)) return fail(name, "an object of resource limits", v);
    checkKeys(v, DEFAULT_LIMITS, name);
    for (const [k, x] of Object.entries(v)) {
      if (x !== undefined && (!Number.isSafeInteger(x) || (x as number) <= 0)) {
        fail(`${name}.${k}`, "a positive integer", x);
      }
    }
  },
  discovery: (v, name) => {
    if (!isObject(v)) return fail(name, "an object of discovery options", v);
    checkKeys(v, DISCOVERY, name);
  },
  region: isString,
  zone: isString,
  relay: isBoolean,
  relays: listOf(isPeerAddress, PEER_ADDRESS),
  location: (v, name) => {
    const ok = isObject(v) && typeof v.lat === "number" && Math.abs(v.lat) <= 90 &&
      typeof v.lon === "number" && Math.abs(v.lon) <= 180;
    if (!ok) fail(name, "{ lat: -90..90, lon: -180..180 }", v);
  },
};

/** The discovery tuning options Network passes through (names only). */
const DISCOVERY: Record<keyof DiscoveryTuning, true> = {
  addresses: true,
  sources: true,
  purgeAfter: true,
  announceInterval: true,
  announceJitter: true,
  maxDrift: true,
  syncInterval: true,
  rttProbeInterval: true,
  requestTimeout: true,
  banDuration: true,
  departureWindow: true,
  maxGossipMessage: true,
  maxPeers: true,
  maxCatalogBytes: true,
  maxCatalogChurn: true,
  maxSyncBytes: true,
  maxGossipRate: true,
  maxSyncRate: true,
  maxVerifyRate: true,
  gossip: true,
  vivaldi: true,
};

/** Edit distance counting a swap of neighbours as one edit, for "did you mean". */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

function checkKeys(value: Record<string, unknown>, known: object, prefix?: string): void {
  const names = Object.keys(known);
  for (const key of Object.keys(value)) {
    if (names.includes(key)) continue;
    const path = (k: string) => prefix ? `${prefix}.${k}` : k;
    const best = names.map((n) => ({ n, d: distance(key, n) })).sort((x, y) => x.d - y.d)[0];
    const hint = best && best.d <= Math.max(1, Math.floor(key.length / 3))
      ? ` (did you mean '${path(best.n)}'?)`
      : `; known options: ${names.join(", ")}`;
    throw new ConfigError(`unknown option '${path(key)}'${hint}`, path(key));
  }
}

/**
 * Throws {@linkcode ConfigError} when `network` or `options` cannot work:
 * unknown option names (with the closest known name), values of the wrong
 * form, or a runtime without Deno's unstable QUIC API.
 */
export function checkNetworkOptions(network: unknown, options: unknown): void {
  if (typeof network !== "string" || network === "") {
    throw new ConfigError(`the network must be a name or a NetworkId, got ${show(network)}`);
  }
  if (!isObject(options)) fail("options", "an object of NetworkOptions", options);
  const given = options as Record<string, unknown>;
  checkKeys(given, OPTIONS);
  for (const [key, check] of Object.entries(OPTIONS)) {
    if (given[key] !== undefined) check(given[key], key);
  }
  if (typeof (Deno as { QuicEndpoint?: unknown }).QuicEndpoint !== "function") {
    throw new ConfigError(
      "QUIC needs Deno's unstable net API: run with --unstable-net, or add " +
        `"unstable": ["net"] to your deno.json`,
    );
  }
}
