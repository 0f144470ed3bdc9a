/**
 * Ranking of producers for a consumer's `prefer` and `limit`: which `limit`
 * producers to use, keeping the ones in use unless another is clearly
 * better (hysteresis), so a consumer does not flap between near-equal
 * producers as measurements wobble.
 *
 * @module
 */
import type { PeerId } from "@mosaik/transport";
import type { PeerInfo, StreamsPeerEntry } from "./peer.ts";

/**
 * How a consumer ranks eligible producers:
 * - `"any"`: catalog order;
 * - `"latency"`: lowest RTT first (measured, else predicted from network coordinates);
 * - `"region"`: same region as this node first, then same zone, then nearest
 *   location, then lowest RTT;
 * - a comparator: negative when `a` is better than `b`.
 */
export type Preference = "any" | "latency" | "region" | ((a: PeerInfo, b: PeerInfo) => number);

/**
 * A producer in use is replaced by one whose RTT is below
 * `SWITCH_RATIO` × its RTT and at least `SWITCH_MARGIN` ms lower.
 */
export const SWITCH_RATIO = 0.75;
/** See {@linkcode SWITCH_RATIO}; in ms. */
export const SWITCH_MARGIN = 2;

const rttOf = (p: PeerInfo) => p.rtt ?? Infinity;

function clearlyFaster(a: PeerInfo, b: PeerInfo): boolean {
  return rttOf(a) < rttOf(b) * SWITCH_RATIO && rttOf(a) < rttOf(b) - SWITCH_MARGIN;
}

const EARTH_KM = 6371;
const RAD = Math.PI / 180;

/** Great-circle distance in km (haversine); Infinity when either location is missing. */
function km(a: StreamsPeerEntry["placement"], b: StreamsPeerEntry["placement"]): number {
  const x = a?.location, y = b?.location;
  if (!x || !y) return Infinity;
  const h = Math.sin((y.lat - x.lat) * RAD / 2) ** 2 +
    Math.cos(x.lat * RAD) * Math.cos(y.lat * RAD) * Math.sin((y.lon - x.lon) * RAD / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Compares two producers for `prefer: "region"` relative to `self`'s
 * placement; 0 when only their RTTs tell them apart.
 */
function byPlace(self: StreamsPeerEntry["placement"], a: PeerInfo, b: PeerInfo): number {
  const pa = a.entry.placement, pb = b.entry.placement;
  const same = (x: string | undefined, y: string | undefined) => x !== undefined && x === y ? 0 : 1;
  return same(self?.region, pa?.region) - same(self?.region, pb?.region) ||
    same(self?.zone, pa?.zone) - same(self?.zone, pb?.zone) ||
    Math.sign(km(self, pa) - km(self, pb) || 0);
}

/**
 * Chooses at most `limit` producers among `eligible` (in catalog order):
 * producers in `current` stay unless a candidate is clearly better than the
 * worst of them. Returns the chosen ids, best first.
 */
export function choose(
  eligible: readonly PeerInfo[],
  current: ReadonlySet<PeerId>,
  options: { prefer?: Preference; limit?: number; self?: StreamsPeerEntry["placement"] },
): PeerId[] {
  const limit = options.limit ?? Infinity;
  const prefer = options.prefer ?? "any";
  if (prefer === "any") {
    // Keep those in use first, then catalog order.
    const kept = eligible.filter((p) => current.has(p.peerId));
    const rest = eligible.filter((p) => !current.has(p.peerId));
    return [...kept, ...rest].slice(0, limit).map((p) => p.peerId);
  }
  // Strict order (for sorting) and "clearly better" (for replacing one in use).
  const place = (a: PeerInfo, b: PeerInfo) => prefer === "region" ? byPlace(options.self, a, b) : 0;
  const order = typeof prefer === "function"
    ? prefer
    : (a: PeerInfo, b: PeerInfo) => place(a, b) || rttOf(a) - rttOf(b);
  const better = typeof prefer === "function"
    ? (a: PeerInfo, b: PeerInfo) => prefer(a, b) < 0
    : (a: PeerInfo, b: PeerInfo) => place(a, b) < 0 || (place(a, b) === 0 && clearlyFaster(a, b));
  const ranked = [...eligible].sort(order);
  if (ranked.length <= limit) return ranked.map((p) => p.peerId);
  const chosen = ranked.filter((p) => current.has(p.peerId)).slice(0, limit);
  for (const candidate of ranked) {
    if (chosen.includes(candidate)) continue;
    if (chosen.length < limit) {
      chosen.push(candidate);
      continue;
    }
    chosen.sort(order);
    const worst = chosen[chosen.length - 1];
    if (better(candidate, worst)) chosen[chosen.length - 1] = candidate;
  }
  return chosen.sort(order).map((p) => p.peerId);
}
