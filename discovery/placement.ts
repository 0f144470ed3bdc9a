/**
 * Where a peer says it runs: a region (`"eu-west-1"`), optionally a zone
 * within it and a geographic location. Carried in its signed entry and, as
 * the tags `region:<region>` and `zone:<zone>`, usable wherever tags are.
 *
 * @module
 */
import { DecodeError, type Tag, tag } from "@mosaik/transport";

/** A point on Earth in degrees. */
export interface GeoLocation {
  /** Latitude, −90..90. */
  readonly lat: number;
  /** Longitude, −180..180. */
  readonly lon: number;
}

/** Where a peer runs, as it declares it. */
export interface Placement {
  /** Region name, for example `"eu-west-1"` (at most 64 characters). */
  readonly region?: string;
  /** Zone within the region, for example `"eu-west-1a"` (at most 64 characters). */
  readonly zone?: string;
  /** Geographic location. */
  readonly location?: GeoLocation;
}

const MAX_NAME = 64;

/** The tag a peer in `region` carries: `region:<region>`. */
export function regionTag(region: string): Tag {
  return tag(`region:${region}`);
}

/** The tag a peer in `zone` carries: `zone:<zone>`. */
export function zoneTag(zone: string): Tag {
  return tag(`zone:${zone}`);
}

/** The tags of a placement (its region and zone). */
export function placementTags(p: Placement): Tag[] {
  const tags: Tag[] = [];
  if (p.region !== undefined) tags.push(regionTag(p.region));
  if (p.zone !== undefined) tags.push(zoneTag(p.zone));
  return tags;
}

function name(v: unknown, what: string): string {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_NAME) {
    throw new DecodeError(`${what}: expected 1..${MAX_NAME} characters`);
  }
  return v;
}

function degrees(v: unknown, what: string, max: number): number {
  if (typeof v !== "number" || !(v >= -max && v <= max)) {
    throw new DecodeError(`${what}: expected degrees in −${max}..${max}`);
  }
  return v;
}

/** Checks a placement (names 1..64 characters, degrees in range); returns it frozen. */
export function checkPlacement(p: Placement): Placement {
  const out: { region?: string; zone?: string; location?: GeoLocation } = {};
  if (p.region !== undefined) out.region = name(p.region, "region");
  if (p.zone !== undefined) out.zone = name(p.zone, "zone");
  if (p.location !== undefined) {
    out.location = Object.freeze({
      lat: degrees(p.location.lat, "latitude", 90),
      lon: degrees(p.location.lon, "longitude", 180),
    });
  }
  return Object.freeze(out);
}

/** Wire form: `[region | null, zone | null, [lat, lon] | null]`. */
export function encodePlacement(p: Placement): unknown[] {
  return [p.region ?? null, p.zone ?? null, p.location ? [p.location.lat, p.location.lon] : null];
}

/** Decodes {@linkcode encodePlacement}'s form; throws {@linkcode DecodeError}. */
export function decodePlacement(v: unknown): Placement {
  if (!Array.isArray(v) || v.length !== 3) throw new DecodeError("placement: expected 3 items");
  const [region, zone, location] = v;
  if (location !== null && (!Array.isArray(location) || location.length !== 2)) {
    throw new DecodeError("location: expected [lat, lon]");
  }
  return checkPlacement({
    region: region === null ? undefined : region,
    zone: zone === null ? undefined : zone,
    location: location === null ? undefined : { lat: location[0], lon: location[1] },
  });
}
