// A one-pass structural check of MessagePack bytes that runs before the
// decoder allocates anything: it bounds nesting depth, the number of values
// and an estimate of the heap the decoded value will take, and rejects
// counts that the remaining bytes cannot hold. The scan allocates one small
// typed array and stops at the first limit hit, so hostile input (a million
// nested arrays, megabytes of empty maps) costs at most a linear walk.
import { DecodeError } from "./errors.ts";

/** Limits one decode enforces. */
export interface DecodeLimits {
  /** Deepest nesting of arrays, maps and container extensions. */
  maxDepth: number;
  /** Most values (of any kind, keys included) in one message. */
  maxElements: number;
  /** Estimated decoded heap bytes allowed per input byte (plus 1 MiB). */
  maxExpansion: number;
}

/** Extension types whose payload is itself one MessagePack value. */
export const EXT_MAP = 0;
export const EXT_SET = 1;
/** Extension holding a BigInt as big-endian two's complement bytes. */
export const EXT_BIGINT = 2;
/** Built-in timestamp extension (`Date`). */
const EXT_TIMESTAMP = -1;
export const MAX_BIGINT_BYTES = 8192;

// Rough V8 heap costs: a slot or primitive, and a container's own object.
const VALUE_COST = 8;
const CONTAINER_COST = 56;
const EXPANSION_FLOOR = 1 << 20;

// Reused between calls: the scan is synchronous and never reentrant.
const stack = { remaining: new Float64Array(129), until: new Float64Array(129) };

/** Throws {@linkcode DecodeError} unless `bytes` is one value within `limits`. */
export function scan(bytes: Uint8Array, limits: DecodeLimits): void {
  const end = bytes.length;
  const budget = EXPANSION_FLOOR + limits.maxExpansion * end;
  // remaining[d]: values still to read in the container open at depth d;
  // until[d]: where a container extension's payload must end (-1 otherwise).
  if (stack.remaining.length <= limits.maxDepth) {
    stack.remaining = new Float64Array(limits.maxDepth + 1);
    stack.until = new Float64Array(limits.maxDepth + 1);
  }
  const { remaining, until } = stack;
  remaining[0] = 1;
  until[0] = -1;
  let depth = 0;
  let pos = 0;
  let values = 0;
  let cost = 0;
  const u16 = (at: number) => (bytes[at] << 8) | bytes[at + 1];
  const u32 = (at: number) =>
    ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
  const i8 = (at: number) => (bytes[at] << 24) >> 24;
  const need = (n: number) => {
    if (pos + n > end) throw new DecodeError("malformed MessagePack: truncated");
  };
  for (;;) {
    while (remaining[depth] === 0) {
      if (until[depth] >= 0 && until[depth] !== pos) {
        throw new DecodeError("malformed MessagePack: extension length mismatch");
      }
      if (depth === 0) {
        if (pos !== end) throw new DecodeError("malformed MessagePack: trailing bytes");
        return;
      }
      depth--;
    }
    remaining[depth]--;
    if (++values > limits.maxElements) {
      throw new DecodeError(`MessagePack holds more than ${limits.maxElements} values`);
    }
    need(1);
    const b = bytes[pos++];
    let children = 0;
    let skip = 0;
    let ext: number | undefined;
    let container = (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
    if (b <= 0x7f || b >= 0xe0) {
      // fixint
    } else if (b <= 0x8f) children = (b & 0x0f) * 2;
    else if (b <= 0x9f) children = b & 0x0f;
    else if (b <= 0xbf) skip = b & 0x1f;
    else {
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc4:
        case 0xd9:
          need(1);
          skip = bytes[pos++];
          break;
        case 0xc5:
        case 0xda:
          need(2);
          skip = u16(pos);
          pos += 2;
          break;
        case 0xc6:
        case 0xdb:
          need(4);
          skip = u32(pos);
          pos += 4;
          break;
        case 0xc7:
          need(2);
          skip = bytes[pos];
          ext = i8(pos + 1);
          pos += 2;
          break;
        case 0xc8:
          need(3);
          skip = u16(pos);
          ext = i8(pos + 2);
          pos += 3;
          break;
        case 0xc9:
          need(5);
          skip = u32(pos);
          ext = i8(pos + 4);
          pos += 5;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
          need(1);
          skip = 1 << (b - 0xd4);
          ext = i8(pos++);
          break;
        case 0xdc:
          need(2);
          children = u16(pos);
          pos += 2;
          break;
        case 0xdd:
          need(4);
          children = u32(pos);
          pos += 4;
          break;
        case 0xde:
          need(2);
          children = u16(pos) * 2;
          pos += 2;
          break;
        case 0xdf:
          need(4);
          children = u32(pos) * 2;
          pos += 4;
          break;
        default:
          throw new DecodeError(`malformed MessagePack: reserved byte 0x${b.toString(16)}`);
      }
    }
    if (ext !== undefined) {
      need(skip);
      if (ext === EXT_MAP || ext === EXT_SET) {
        // the payload is one value, scanned in place as a child
        children = 1;
        container = true;
      } else if (ext === EXT_BIGINT) {
        if (skip === 0 || skip > MAX_BIGINT_BYTES) {
          throw new DecodeError(`BigInt extension of ${skip} bytes`);
        }
      } else if (ext !== EXT_TIMESTAMP) {
        throw new DecodeError(`unknown MessagePack extension type ${ext}`);
      }
    }
    if (container) {
      // every value takes at least one byte: refuse counts the input cannot hold
      if (children > end - pos) throw new DecodeError("malformed MessagePack: truncated");
      if (depth === limits.maxDepth) {
        throw new DecodeError(`MessagePack nested deeper than ${limits.maxDepth}`);
      }
      cost += CONTAINER_COST + VALUE_COST * children;
    }
    if (children > 0) {
      depth++;
      remaining[depth] = children;
      until[depth] = ext === undefined ? -1 : pos + skip;
    } else {
      need(skip);
      pos += skip;
      cost += VALUE_COST + skip;
    }
    if (cost > budget) {
      throw new DecodeError(
        `MessagePack of ${end} bytes would expand beyond ${limits.maxExpansion}× in memory`,
      );
    }
  }
}
