// Ed25519 public-key checks in BigInt arithmetic (RFC 8032 §5.1.3), so that
// transport needs no curve library: decoding a key and multiplying it by
// the cofactor is all isValidPublicKey does, and a curve library's module
// costs ~2.5 MiB of RSS in every node process.

const P = 2n ** 255n - 19n;
const D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;
/** A square root of -1 mod P: 2^((P-1)/4). */
const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = result * b % P;
    b = b * b % P;
  }
  return result;
}

/**
 * The affine point a 32-byte key encodes, or undefined when it is not the
 * canonical encoding of a point on the curve (y ≥ P, no square root, or
 * x = 0 with the sign bit set).
 */
export function decodePoint(bytes: Uint8Array): { x: bigint; y: bigint } | undefined {
  if (bytes.length !== 32) return undefined;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i] & 0x7f : bytes[i]);
  const negative = (bytes[31] & 0x80) !== 0;
  if (y >= P) return undefined;
  const y2 = y * y % P;
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  const v3 = v * v % P * v % P;
  let x = u * v3 % P * pow(u * v3 % P * v3 % P * v, (P - 5n) / 8n) % P;
  const vx2 = v * x % P * x % P;
  if (vx2 !== u) {
    if (vx2 !== mod(-u)) return undefined;
    x = x * SQRT_M1 % P;
  }
  if (x === 0n && negative) return undefined;
  if (((x & 1n) === 1n) !== negative) x = P - x;
  return { x, y };
}

/** Whether the point has order dividing 8 (the cofactor): [8]point is the identity. */
export function isSmallOrder(point: { x: bigint; y: bigint }): boolean {
  // Three doublings in extended coordinates (a = -1; T is not needed).
  let X = point.x, Y = point.y, Z = 1n;
  for (let i = 0; i < 3; i++) {
    const A = X * X % P;
    const B = Y * Y % P;
    const C = 2n * Z * Z % P;
    const E = mod((X + Y) * (X + Y) - A - B);
    const G = mod(B - A);
    const F = mod(G - C);
    const H = mod(-A - B);
    X = E * F % P;
    Y = G * H % P;
    Z = F * G % P;
  }
  return X === 0n && Y === Z;
}

/**
 * The encodings of the small-order points' y, sign bit aside (libsodium's
 * list; with y ≥ P below it covers all eight points and their non-canonical
 * twins).
 */
const SMALL_ORDER_Y = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map((hex) => Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16)));

/**
 * Whether a 32-byte key is the encoding of a small-order point or not
 * canonical (y ≥ P), by comparing bytes: the cheap guard in front of a
 * native signature check, which refuses encodings of no point by itself.
 * No BigInt work, so a flood of fresh keys costs no garbage here.
 */
export function weakEncoding(key: Uint8Array): boolean {
  let ones = true; // bytes 1..30 all 0xff: y may be ≥ P
  for (let i = 1; i < 31 && ones; i++) ones = key[i] === 0xff;
  if (ones && (key[31] & 0x7f) === 0x7f && key[0] >= 0xed) return true;
  return SMALL_ORDER_Y.some((y) => {
    for (let i = 0; i < 31; i++) if (key[i] !== y[i]) return false;
    return (key[31] & 0x7f) === y[31];
  });
}
