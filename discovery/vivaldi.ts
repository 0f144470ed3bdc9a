/**
 * Vivaldi network coordinates, as hashicorp/serf's `coordinate` package
 * computes them: a Euclidean vector plus a non-Euclidean height (the access
 * link), an error estimate weighting each sample, an adjustment term averaged
 * over a window of samples, a median latency filter per peer and a gravity
 * that pulls the coordinate back to the origin so the whole system does not
 * drift. Units are milliseconds where serf uses seconds.
 *
 * Sources: Dabek et al., "Vivaldi: A Decentralized Network Coordinate System"
 * (SIGCOMM 2004); Ledlie et al., "Network Coordinates in the Wild" (NSDI
 * 2007, latency filter, gravity); Lee et al., "On Suitability of Euclidean
 * Embedding for Host-based Network Coordinate Systems" (adjustment window).
 *
 * @example
 * ```ts
 * import { Vivaldi } from "@mosaik/discovery";
 * const a = new Vivaldi();
 * const b = new Vivaldi();
 * for (let i = 0; i < 20; i++) {
 *   a.update("b", b.coordinate, 40);
 *   b.update("a", a.coordinate, 40);
 * }
 * console.log(a.predict(b.coordinate)); // close to 40
 * ```
 *
 * @module
 */
import { DecodeError, dropOldest } from "@mosaik/transport";

/** A network coordinate. Lengths (`vec`, `height`, `adjustment`) are in ms. */
export interface Coordinate {
  /** Position in the Euclidean part of the space. */
  readonly vec: readonly number[];
  /** Confidence in the coordinate: 0 is certain, `errorMax` knows nothing. */
  readonly error: number;
  /** Added to every distance from this coordinate (average residual of recent samples / 2). */
  readonly adjustment: number;
  /** Non-Euclidean distance to the core of the network (the access link); at least `heightMin`. */
  readonly height: number;
}

/** Tuning of {@linkcode Vivaldi}; the defaults are serf's `DefaultConfig`. */
export interface VivaldiConfig {
  /** Dimensions of `vec`. Default 8. */
  dimensions: number;
  /** Error of a fresh coordinate and upper bound of the error. Default 1.5. */
  errorMax: number;
  /** Largest share of one sample in the error estimate (serf `VivaldiCE`). Default 0.25. */
  ce: number;
  /** Largest share of one sample in the coordinate's move (serf `VivaldiCC`). Default 0.25. */
  cc: number;
  /** Samples averaged into `adjustment`; 0 disables it. Default 20. */
  adjustmentWindow: number;
  /** Smallest height in ms. Default 0.01 (serf: 10 µs). */
  heightMin: number;
  /** Samples per peer whose median is used (rides out blips). Default 3. */
  latencyFilter: number;
  /** Distance from the origin in ms at which gravity is felt (serf `GravityRho`). Default 150 000. */
  gravityRho: number;
  /** Peers whose latency filter is kept; the oldest is forgotten beyond. Default 1 024. */
  maxPeers: number;
}

/** Defaults of {@linkcode VivaldiConfig} (serf's). */
export const VIVALDI_DEFAULTS: Readonly<VivaldiConfig> = Object.freeze({
  dimensions: 8,
  errorMax: 1.5,
  ce: 0.25,
  cc: 0.25,
  adjustmentWindow: 20,
  heightMin: 0.01,
  latencyFilter: 3,
  gravityRho: 150_000,
  maxPeers: 1024,
});

/** Bounds of a decoded coordinate. */
export const COORDINATE_LIMITS: {
  readonly maxDimensions: number;
  readonly maxComponent: number;
  readonly maxError: number;
} = { maxDimensions: 16, maxComponent: 1e7, maxError: 100 };

/** Samples above this many ms are refused (serf: 10 s). */
export const MAX_RTT = 10_000;
/** Lengths below this (ms) count as zero (serf: 1 µs). */
const ZERO = 1e-3;
/** Serf's gravity force is in seconds: `-(d/ρ)²` s, here in ms. */
const SECOND = 1000;

/** A fresh coordinate at the origin with the largest error. */
export function originCoordinate(config: Partial<VivaldiConfig> = {}): Coordinate {
  const c = { ...VIVALDI_DEFAULTS, ...config };
  return {
    vec: new Array(c.dimensions).fill(0),
    error: c.errorMax,
    adjustment: 0,
    height: c.heightMin,
  };
}

/** Whether every component is a finite number. */
export function isValidCoordinate(c: Coordinate): boolean {
  return c.vec.every(Number.isFinite) && Number.isFinite(c.error) &&
    Number.isFinite(c.adjustment) && Number.isFinite(c.height);
}

function euclid(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}

function rawDistance(a: Coordinate, b: Coordinate): number {
  return euclid(a.vec, b.vec) + a.height + b.height;
}

/**
 * Predicted RTT in ms between two coordinates of the same dimensions: the
 * Euclidean distance plus both heights plus both adjustments (the
 * adjustments only when that keeps the result positive).
 */
export function distance(a: Coordinate, b: Coordinate): number {
  if (a.vec.length !== b.vec.length) throw new RangeError("coordinate dimensions differ");
  const raw = rawDistance(a, b);
  const adjusted = raw + a.adjustment + b.adjustment;
  return adjusted > 0 ? adjusted : raw;
}

/** Moves `c` by `force` ms along the unit vector from `other` to `c` (serf `ApplyForce`). */
function applyForce(
  cfg: VivaldiConfig,
  c: Coordinate,
  force: number,
  other: Coordinate,
): Coordinate {
  const diff = c.vec.map((x, i) => x - other.vec[i]);
  let mag = euclid(c.vec, other.vec);
  let unit: number[];
  if (mag > ZERO) {
    unit = diff.map((x) => x / mag);
  } else {
    // Same place: push in a random direction, and leave the height alone.
    mag = 0;
    const r = diff.map(() => Math.random() - 0.5);
    const m = Math.hypot(...r);
    unit = m > ZERO * ZERO ? r.map((x) => x / m) : r.map((_, i) => i === 0 ? 1 : 0);
  }
  let height = c.height;
  if (mag > ZERO) {
    height = Math.max((c.height + other.height) * force / mag + c.height, cfg.heightMin);
  }
  return {
    vec: c.vec.map((x, i) => x + unit[i] * force),
    error: c.error,
    adjustment: c.adjustment,
    height,
  };
}

/**
 * One node's coordinate, updated from RTT samples to peers whose coordinates
 * it knows. Refuses bad samples (negative, non-finite, above
 * {@linkcode MAX_RTT}) and bad coordinates; a zero RTT counts as 1 µs.
 */
export class Vivaldi {
  /** Times the coordinate became invalid and restarted at the origin. */
  resets = 0;
  readonly #cfg: VivaldiConfig;
  #coord: Coordinate;
  #origin: Coordinate;
  #window: number[];
  #windowAt = 0;
  #filters = new Map<string, number[]>();

  /** Starts at the origin with the largest error. */
  constructor(config: Partial<VivaldiConfig> = {}) {
    this.#cfg = { ...VIVALDI_DEFAULTS, ...config };
    if (!(this.#cfg.dimensions >= 1)) throw new RangeError("dimensions must be at least 1");
    this.#coord = originCoordinate(this.#cfg);
    this.#origin = originCoordinate(this.#cfg);
    this.#window = new Array(this.#cfg.adjustmentWindow).fill(0);
  }

  /** The current coordinate. */
  get coordinate(): Coordinate {
    return this.#coord;
  }

  /** Predicted RTT in ms from this node to `other`, or undefined if `other` does not fit. */
  predict(other: Coordinate): number | undefined {
    if (!this.#fits(other)) return undefined;
    return distance(this.#coord, other);
  }

  /**
   * Takes a measured RTT of `rtt` ms to `peer`, whose coordinate is `other`.
   * Returns false (and changes nothing) for a bad sample or coordinate.
   */
  update(peer: string, other: Coordinate, rtt: number): boolean {
    if (!this.#fits(other) || !(rtt >= 0 && rtt <= MAX_RTT)) return false;
    const filtered = this.#filter(peer, rtt);
    this.#vivaldi(other, filtered);
    this.#adjust(other, filtered);
    this.#gravity();
    if (!isValidCoordinate(this.#coord)) {
      this.resets++;
      this.#coord = originCoordinate(this.#cfg);
    }
    return true;
  }

  /** Forgets the latency samples of `peer`. */
  forget(peer: string): void {
    this.#filters.delete(peer);
  }

  #fits(other: Coordinate): boolean {
    return other.vec.length === this.#cfg.dimensions && isValidCoordinate(other);
  }

  #filter(peer: string, rtt: number): number {
    let samples = this.#filters.get(peer);
    if (samples) {
      this.#filters.delete(peer); // re-inserted below: most recent last
    } else {
      samples = [];
      dropOldest(this.#filters, this.#cfg.maxPeers - 1);
    }
    samples.push(rtt);
    if (samples.length > this.#cfg.latencyFilter) samples.shift();
    this.#filters.set(peer, samples);
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[sorted.length >> 1];
  }

  #vivaldi(other: Coordinate, measured: number): void {
    const cfg = this.#cfg;
    const rtt = Math.max(measured, ZERO);
    const dist = distance(this.#coord, other);
    const wrongness = Math.abs(dist - rtt) / rtt;
    const total = Math.max(this.#coord.error + other.error, 1e-6);
    const weight = this.#coord.error / total;
    const error = Math.min(
      cfg.ce * weight * wrongness + this.#coord.error * (1 - cfg.ce * weight),
      cfg.errorMax,
    );
    const force = cfg.cc * weight * (rtt - dist);
    this.#coord = applyForce(cfg, { ...this.#coord, error }, force, other);
  }

  #adjust(other: Coordinate, rtt: number): void {
    const size = this.#cfg.adjustmentWindow;
    if (size === 0) return;
    this.#window[this.#windowAt] = rtt - rawDistance(this.#coord, other);
    this.#windowAt = (this.#windowAt + 1) % size;
    const sum = this.#window.reduce((a, b) => a + b, 0);
    this.#coord = { ...this.#coord, adjustment: sum / (2 * size) };
  }

  #gravity(): void {
    const d = distance(this.#origin, this.#coord);
    const force = -SECOND * (d / this.#cfg.gravityRho) ** 2;
    this.#coord = applyForce(this.#cfg, this.#coord, force, this.#origin);
  }
}

/** Wire form of a coordinate: `[vec, error, adjustment, height]`. */
export function encodeCoordinate(c: Coordinate): [number[], number, number, number] {
  return [[...c.vec], c.error, c.adjustment, c.height];
}

function finite(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== "number" || !(v >= min && v <= max)) {
    throw new DecodeError(`${what}: expected a number in ${min}..${max}`);
  }
  return v;
}

/**
 * Decodes a coordinate from its wire form, refusing non-finite or
 * out-of-range components ({@linkcode COORDINATE_LIMITS}); the result is frozen.
 */
export function decodeCoordinate(v: unknown): Coordinate {
  const { maxDimensions, maxComponent, maxError } = COORDINATE_LIMITS;
  if (!Array.isArray(v) || v.length !== 4 || !Array.isArray(v[0])) {
    throw new DecodeError("coordinate: expected [vec, error, adjustment, height]");
  }
  if (v[0].length < 1 || v[0].length > maxDimensions) {
    throw new DecodeError(`coordinate: 1..${maxDimensions} dimensions`);
  }
  const vec = v[0].map((x) => finite(x, "coordinate component", -maxComponent, maxComponent));
  return Object.freeze({
    vec: Object.freeze(vec),
    error: finite(v[1], "coordinate error", 0, maxError),
    adjustment: finite(v[2], "coordinate adjustment", -maxComponent, maxComponent),
    height: finite(v[3], "coordinate height", 0, maxComponent),
  });
}
