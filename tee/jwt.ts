/**
 * JWT tickets for deployments without a TEE: an operator signs a compact JWS
 * (EdDSA with Ed25519, or ES256 with P-256) that binds `sub` to the holder's
 * {@linkcode PeerId} and `net` to the {@linkcode NetworkId}, with an `exp`.
 *
 * Decoding is strict: the three parts must be canonical unpadded base64url,
 * header and claims JSON objects with well-typed fields, and the algorithm
 * one of the two supported asymmetric ones, matched against a configured key
 * of the same algorithm (so `"none"` and HMAC-with-a-public-key confusion are
 * impossible). Failures are typed: {@linkcode JwtDecodeError} for malformed
 * input, {@linkcode JwtRejectedError} (with a {@linkcode JwtRejection} code)
 * for well-formed tokens that are not valid here.
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { DecodeError, derive, digest, MosaikError, toHex } from "@mosaik/transport";
import { verifyP256 } from "./_crypto.ts";
import type { Digest, NetworkId, PeerId } from "@mosaik/transport";
import type { Ticket, TicketContext, TicketValidator, TicketVerdict } from "@mosaik/transport";

/** The signature algorithms JWT tickets may use. */
export type JwtAlgorithm = "EdDSA" | "ES256";

/** The default ticket kind of JWT tickets. */
export const JWT_TICKET_KIND = "jwt";

/** The default upper bound on a token's length in bytes. */
export const MAX_JWT_LENGTH = 16 * 1024;

/** A public key a {@linkcode jwtValidator} trusts. */
export interface JwtPublicKey {
  /** The algorithm this key verifies; a token's header must name the same one. */
  alg: JwtAlgorithm;
  /**
   * The key: 32 bytes for EdDSA (Ed25519); a SEC1 P-256 point for ES256,
   * compressed (33 bytes) or uncompressed (65 bytes).
   */
  key: Uint8Array;
  /** Optional key id; a token whose header names a `kid` is checked only against keys with that id. */
  kid?: string;
}

/** The claims of a JWT ticket (registered names plus any custom ones). */
export interface JwtClaims {
  /** The holder's PeerId. */
  sub?: string;
  /** The NetworkId (lowercase hex) the ticket is valid for. */
  net?: string;
  /** Expiry, seconds since the epoch. */
  exp?: number;
  /** Not before, seconds since the epoch. */
  nbf?: number;
  /** Issued at, seconds since the epoch. */
  iat?: number;
  /** Issuer. */
  iss?: string;
  /** Audience: one string or a list. */
  aud?: string | string[];
  /** Token id. */
  jti?: string;
  /** Custom claims. */
  [claim: string]: unknown;
}

/** The header of a JWT ticket. */
export interface JwtHeader {
  /** The signature algorithm. */
  alg: JwtAlgorithm;
  /** The media type; `"JWT"` when present. */
  typ?: string;
  /** The signing key's id, when the issuer set one. */
  kid?: string;
}

/** A token split into its checked parts (signature not yet verified). */
export interface DecodedJwt {
  /** The decoded header. */
  header: JwtHeader;
  /** The decoded claims. */
  claims: JwtClaims;
  /** The raw signature bytes (64 for both algorithms). */
  signature: Uint8Array;
  /** The signed bytes: ASCII of `header.claims`. */
  signingInput: Uint8Array;
}

/** The token is malformed (bad shape, base64url, JSON, field types, size). */
export class JwtDecodeError extends DecodeError {}

/** Why a well-formed token was refused. */
export type JwtRejection =
  | "algorithm"
  | "key"
  | "signature"
  | "expired"
  | "not-yet-valid"
  | "subject"
  | "network"
  | "issuer"
  | "audience"
  | "lifetime"
  | "claim";

/** A well-formed token is not valid for this peer, network, time or key set. */
export class JwtRejectedError extends MosaikError {
  /** Creates the error with its reason code. */
  constructor(readonly code: JwtRejection, message: string) {
    super(message);
  }
}

/** A key, secret or issuing option is invalid (wrong size, not a curve point, no expiry). */
export class JwtConfigError extends MosaikError {}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const B64URL_RE = /^[A-Za-z0-9_-]*$/;

/** Encodes bytes as unpadded base64url. */
function b64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Decodes canonical unpadded base64url (no padding, no stray bits). */
function fromB64url(text: string, what: string): Uint8Array {
  if (!B64URL_RE.test(text) || text.length % 4 === 1) {
    throw new JwtDecodeError(`${what} is not base64url`);
  }
  try {
    return Uint8Array.fromBase64(text + "=".repeat((4 - text.length % 4) % 4), {
      alphabet: "base64url",
      lastChunkHandling: "strict",
    });
  } catch (cause) {
    throw new JwtDecodeError(`${what} is not canonical base64url`, { cause });
  }
}

function parseObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new JwtDecodeError(`${what} is not UTF-8 JSON`, { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtDecodeError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function optional(
  obj: Record<string, unknown>,
  name: string,
  type: "string" | "number",
): void {
  const v = obj[name];
  if (v === undefined) return;
  const ok = type === "number"
    ? typeof v === "number" && Number.isFinite(v)
    : typeof v === "string";
  if (!ok) {
    throw new JwtDecodeError(`claim ${name} must be a ${type}`);
  }
}

/**
 * Splits and decodes a compact JWS without checking its signature. Throws
 * {@linkcode JwtDecodeError} for malformed input and
 * {@linkcode JwtRejectedError} (`"algorithm"`) for an algorithm other than
 * EdDSA or ES256.
 *
 * @example
 * ```ts
 * import { decodeJwt, JwtIssuer } from "@mosaik/tee";
 * const token = JwtIssuer.generate("ES256").sign({ sub: "x", exp: 2e9 });
 * console.assert(decodeJwt(token).header.alg === "ES256");
 * ```
 */
export function decodeJwt(
  token: string,
  maxLength: number = MAX_JWT_LENGTH,
): DecodedJwt {
  if (typeof token !== "string") {
    throw new JwtDecodeError("a token is a string");
  }
  if (token.length > maxLength) {
    throw new JwtDecodeError(
      `token of ${token.length} bytes exceeds ${maxLength}`,
    );
  }
  const parts = token.split(".");
  if (parts.length !== 3) {
    throw new JwtDecodeError("a token has three dot-separated parts");
  }
  const header = parseObject(fromB64url(parts[0], "header"), "header");
  const claims = parseObject(fromB64url(parts[1], "claims"), "claims");
  const signature = fromB64url(parts[2], "signature");
  if (typeof header.alg !== "string") {
    throw new JwtDecodeError("header alg must be a string");
  }
  if (header.alg !== "EdDSA" && header.alg !== "ES256") {
    throw new JwtRejectedError(
      "algorithm",
      `algorithm ${JSON.stringify(header.alg)} not allowed`,
    );
  }
  optional(header, "typ", "string");
  optional(header, "kid", "string");
  if (
    header.typ !== undefined && (header.typ as string).toUpperCase() !== "JWT"
  ) {
    throw new JwtDecodeError(
      `header typ ${JSON.stringify(header.typ)} is not JWT`,
    );
  }
  if (header.crit !== undefined) {
    throw new JwtRejectedError(
      "algorithm",
      "critical header extensions are not supported",
    );
  }
  for (const name of ["sub", "net", "iss", "jti"]) {
    optional(claims, name, "string");
  }
  for (const name of ["exp", "nbf", "iat"]) optional(claims, name, "number");
  const aud = claims.aud;
  if (
    aud !== undefined && typeof aud !== "string" &&
    !(Array.isArray(aud) && aud.every((a) => typeof a === "string"))
  ) {
    throw new JwtDecodeError("claim aud must be a string or a list of strings");
  }
  if (signature.length !== 64) {
    throw new JwtDecodeError(
      `a ${header.alg} signature is 64 bytes, got ${signature.length}`,
    );
  }
  return {
    header: header as unknown as JwtHeader,
    claims: claims as JwtClaims,
    signature,
    signingInput: encoder.encode(`${parts[0]}.${parts[1]}`),
  };
}

function checkKey(key: JwtPublicKey): void {
  if (key.alg === "EdDSA") {
    if (key.key.length !== 32) {
      throw new JwtConfigError("an Ed25519 public key is 32 bytes");
    }
    // A small-order key (e.g. the identity) verifies forged signatures: refuse it.
    let weak: boolean;
    try {
      weak = ed25519.Point.fromBytes(key.key).isSmallOrder();
    } catch (cause) {
      throw new JwtConfigError("not an Ed25519 public key", { cause });
    }
    if (weak) throw new JwtConfigError("refusing a small-order Ed25519 public key");
  } else if (key.alg === "ES256") {
    try {
      p256.Point.fromBytes(key.key).assertValidity();
    } catch (cause) {
      throw new JwtConfigError("not a SEC1 P-256 public key", { cause });
    }
  } else {
    throw new JwtConfigError(
      `unsupported algorithm ${JSON.stringify((key as JwtPublicKey).alg)}`,
    );
  }
}

// Signatures are checked with WebCrypto: on Deno 2.9 it verifies Ed25519
// about 11× and P-256 about 3× faster than @noble/curves (bench/tickets.ts).
// Keys are imported once per key list and reused.
interface PreparedKey {
  readonly key: JwtPublicKey;
  /** Ed25519: the imported key; ES256: the uncompressed point for verifyP256. */
  readonly ed25519?: Promise<CryptoKey | null>;
  readonly point?: Uint8Array;
}

function prepare(key: JwtPublicKey): PreparedKey {
  checkKey(key);
  if (key.alg === "ES256") return { key, point: p256.Point.fromBytes(key.key).toBytes(false) };
  let imported: Promise<CryptoKey | null>;
  try {
    imported = crypto.subtle.importKey("raw", key.key.slice(), "Ed25519", false, ["verify"])
      .catch(() => null);
  } catch {
    imported = Promise.resolve(null);
  }
  return { key, ed25519: imported };
}

const preparedKeys = new WeakMap<readonly JwtPublicKey[], PreparedKey[]>();

function prepared(keys: readonly JwtPublicKey[]): PreparedKey[] {
  let out = preparedKeys.get(keys);
  if (!out) {
    out = keys.map(prepare);
    preparedKeys.set(keys, out);
  }
  return out;
}

async function verifySignature(k: PreparedKey, jwt: DecodedJwt): Promise<boolean> {
  // JWS ES256 is raw r‖s over SHA-256 (WebCrypto's format); high-S is valid in JOSE.
  if (k.point) return await verifyP256(k.point, jwt.signature, jwt.signingInput);
  const key = await k.ed25519;
  if (!key) return false;
  try {
    return await crypto.subtle.verify(
      "Ed25519",
      key,
      jwt.signature.slice(),
      jwt.signingInput.slice(),
    );
  } catch {
    return false;
  }
}

/** Options of {@linkcode jwtValidator} and {@linkcode verifyJwt}. */
export interface JwtValidatorOptions {
  /** Trusted keys; several keys (of either algorithm) allow rotation. */
  keys: readonly JwtPublicKey[];
  /** Accepted `iss` values; when given, tokens must carry one of them. */
  issuer?: string | readonly string[];
  /** Accepted audiences; when given, a token's `aud` must contain one of them. */
  audience?: string | readonly string[];
  /** Tolerated clock difference in seconds for `exp` and `nbf`. Default 0. */
  clockSkew?: number;
  /** When set, `exp` may lie at most this many seconds after the check. */
  maxLifetime?: number;
  /** The ticket kind to validate. Default {@linkcode JWT_TICKET_KIND}. */
  kind?: string;
  /** The longest token accepted, in bytes. Default {@linkcode MAX_JWT_LENGTH}. */
  maxLength?: number;
}

function list(
  value: string | readonly string[] | undefined,
): string[] | undefined {
  return value === undefined ? undefined : typeof value === "string" ? [value] : [...value];
}

/**
 * Verifies a token for `peerId` on `networkId` at `now`: signature by one of
 * the keys, `sub`, `net`, `exp` (required), `nbf`, `iss`, `aud` and the
 * lifetime bound. Resolves to the claims; rejects with
 * {@linkcode JwtDecodeError} or {@linkcode JwtRejectedError} (or
 * {@linkcode JwtConfigError} for a bad key). Keys are imported once per
 * `keys` array and cached, so reuse the same options object.
 *
 * @example
 * ```ts
 * import { JwtIssuer, verifyJwt } from "@mosaik/tee";
 * import { networkId, SecretKey } from "@mosaik/transport";
 * const issuer = JwtIssuer.generate("EdDSA");
 * const peerId = SecretKey.generate().peerId;
 * const net = networkId("demo");
 * const ticket = issuer.issue({ peerId, networkId: net, expiresIn: 60_000 });
 * const claims = await verifyJwt(new TextDecoder().decode(ticket.data), { keys: [issuer.publicKey] }, {
 *   peerId,
 *   networkId: net,
 *   now: new Date(),
 * });
 * console.assert(claims.sub === peerId);
 * ```
 */
export async function verifyJwt(
  token: string,
  options: JwtValidatorOptions,
  ctx: TicketContext,
): Promise<JwtClaims> {
  const keys = prepared(options.keys);
  const jwt = decodeJwt(token, options.maxLength ?? MAX_JWT_LENGTH);
  const { header, claims } = jwt;
  let candidates = keys.filter((k) => k.key.alg === header.alg);
  if (candidates.length === 0) {
    throw new JwtRejectedError("algorithm", `no ${header.alg} key is trusted`);
  }
  if (header.kid !== undefined) {
    candidates = candidates.filter((k) => k.key.kid === undefined || k.key.kid === header.kid);
    if (candidates.length === 0) {
      throw new JwtRejectedError("key", `unknown key id ${header.kid}`);
    }
  }
  let verified = false;
  for (const k of candidates) if (!verified) verified = await verifySignature(k, jwt);
  if (!verified) {
    throw new JwtRejectedError(
      "signature",
      "signature does not verify under any trusted key",
    );
  }
  const now = ctx.now.getTime() / 1000;
  const skew = options.clockSkew ?? 0;
  if (claims.sub !== ctx.peerId) {
    throw new JwtRejectedError("subject", "ticket was issued to another peer");
  }
  if (claims.net !== ctx.networkId) {
    throw new JwtRejectedError(
      "network",
      "ticket was issued for another network",
    );
  }
  if (claims.exp === undefined) {
    throw new JwtRejectedError("expired", "ticket has no exp");
  }
  if (now >= claims.exp + skew) {
    throw new JwtRejectedError("expired", "ticket expired");
  }
  if (claims.nbf !== undefined && now + skew < claims.nbf) {
    throw new JwtRejectedError("not-yet-valid", "ticket is not valid yet");
  }
  if (
    options.maxLifetime !== undefined && claims.exp - now > options.maxLifetime
  ) {
    throw new JwtRejectedError("lifetime", "ticket lives longer than allowed");
  }
  const issuers = list(options.issuer);
  if (
    issuers !== undefined &&
    (claims.iss === undefined || !issuers.includes(claims.iss))
  ) {
    throw new JwtRejectedError(
      "issuer",
      "ticket comes from an untrusted issuer",
    );
  }
  const audiences = list(options.audience);
  if (audiences !== undefined) {
    const aud = claims.aud === undefined
      ? []
      : typeof claims.aud === "string"
      ? [claims.aud]
      : claims.aud;
    if (!aud.some((a) => audiences.includes(a))) {
      throw new JwtRejectedError(
        "audience",
        "ticket is meant for another audience",
      );
    }
  }
  return claims;
}

/**
 * A {@linkcode TicketValidator} for JWT tickets. The verdict's expiry is the
 * token's `exp` (plus the clock skew), so the peer is disconnected then.
 *
 * @example
 * ```ts
 * import { JwtIssuer, jwtValidator } from "@mosaik/tee";
 * import { networkId, SecretKey } from "@mosaik/transport";
 * const issuer = JwtIssuer.generate("ES256", { issuer: "ops" });
 * const validator = jwtValidator({ keys: [issuer.publicKey], issuer: "ops" });
 * const peerId = SecretKey.generate().peerId;
 * const net = networkId("demo");
 * const ticket = issuer.issue({ peerId, networkId: net, expiresIn: 60_000 });
 * const verdict = await validator.validate(ticket, { peerId, networkId: net, now: new Date() });
 * console.assert(verdict.ok);
 * ```
 */
export function jwtValidator(options: JwtValidatorOptions): TicketValidator {
  if (options.keys.length === 0) {
    throw new JwtConfigError("a JWT validator needs at least one key");
  }
  const config = {
    keys: options.keys.map((k) => ({
      alg: k.alg,
      key: toHex(k.key),
      kid: k.kid ?? null,
    })),
    issuer: list(options.issuer)?.sort() ?? null,
    audience: list(options.audience)?.sort() ?? null,
    clockSkew: options.clockSkew ?? 0,
    maxLifetime: options.maxLifetime ?? null,
  };
  const frozen: JwtValidatorOptions = {
    ...options,
    keys: options.keys.map((k) => ({ ...k, key: k.key.slice() })),
  };
  prepared(frozen.keys); // checks the keys now, imports them once
  const kind = options.kind ?? JWT_TICKET_KIND;
  return {
    kind,
    id: derive<Digest>(
      digest("mosaik.tee.jwt-validator.v1"),
      `${kind}\n${JSON.stringify(config)}`,
    ),
    async validate(ticket: Ticket, ctx: TicketContext): Promise<TicketVerdict> {
      try {
        let token: string;
        try {
          token = decoder.decode(ticket.data);
        } catch (cause) {
          throw new JwtDecodeError("token is not UTF-8", { cause });
        }
        const claims = await verifyJwt(token, frozen, ctx);
        return {
          ok: true,
          expiresAt: (claims.exp! + (frozen.clockSkew ?? 0)) * 1000,
        };
      } catch (error) {
        if (error instanceof MosaikError) {
          return { ok: false, reason: error.message };
        }
        throw error;
      }
    },
  };
}

/** Options of {@linkcode JwtIssuer.generate} and {@linkcode JwtIssuer.fromSecret}. */
export interface JwtIssuerOptions {
  /** The `iss` claim put into every ticket. */
  issuer?: string;
  /** The `kid` header put into every ticket. */
  kid?: string;
  /** The ticket kind produced. Default {@linkcode JWT_TICKET_KIND}. */
  kind?: string;
}

/** What {@linkcode JwtIssuer.issue} puts into a ticket. */
export interface IssueJwtOptions {
  /** The holder. */
  peerId: PeerId;
  /** The network the ticket is valid for. */
  networkId: NetworkId;
  /** Expiry as a Date or Unix milliseconds. Either this or `expiresIn` is required. */
  expiresAt?: Date | number;
  /** Expiry relative to now, in milliseconds. */
  expiresIn?: number;
  /** Start of validity as a Date or Unix milliseconds. */
  notBefore?: Date | number;
  /** Audience claim. */
  audience?: string | string[];
  /** Issued-at time; default now. */
  issuedAt?: Date | number;
  /** Extra claims (registered names given here are overridden by the options above). */
  claims?: Record<string, unknown>;
}

const seconds = (t: Date | number): number =>
  Math.floor((typeof t === "number" ? t : t.getTime()) / 1000);

/**
 * Makes JWT tickets with one signing key.
 *
 * @example
 * ```ts
 * import { JwtIssuer } from "@mosaik/tee";
 * import { networkId, SecretKey } from "@mosaik/transport";
 * const issuer = JwtIssuer.generate("EdDSA", { issuer: "ops" });
 * const ticket = issuer.issue({
 *   peerId: SecretKey.generate().peerId,
 *   networkId: networkId("demo"),
 *   expiresIn: 3_600_000,
 * });
 * console.assert(ticket.kind === "jwt");
 * ```
 */
export class JwtIssuer {
  /** The algorithm of the signing key. */
  readonly algorithm: JwtAlgorithm;
  /** The matching public key, to configure validators with. */
  readonly publicKey: JwtPublicKey;
  /** The `iss` claim, if set. */
  readonly issuer: string | undefined;
  /** The ticket kind produced. */
  readonly kind: string;
  readonly #secret: Uint8Array;
  readonly #kid: string | undefined;

  private constructor(
    alg: JwtAlgorithm,
    secret: Uint8Array,
    options: JwtIssuerOptions,
  ) {
    this.algorithm = alg;
    this.#secret = secret.slice();
    this.#kid = options.kid;
    this.issuer = options.issuer;
    this.kind = options.kind ?? JWT_TICKET_KIND;
    let key: Uint8Array;
    try {
      key = alg === "EdDSA" ? ed25519.getPublicKey(secret) : p256.getPublicKey(secret, true);
    } catch (cause) {
      throw new JwtConfigError(`not a valid ${alg} secret key`, { cause });
    }
    this.publicKey = options.kid === undefined ? { alg, key } : { alg, key, kid: options.kid };
  }

  /** An issuer with a fresh random key. */
  static generate(
    alg: JwtAlgorithm,
    options: JwtIssuerOptions = {},
  ): JwtIssuer {
    const secret = alg === "EdDSA"
      ? ed25519.utils.randomSecretKey()
      : alg === "ES256"
      ? p256.utils.randomSecretKey()
      : undefined;
    if (secret === undefined) {
      throw new JwtConfigError(`unsupported algorithm ${JSON.stringify(alg)}`);
    }
    return new JwtIssuer(alg, secret, options);
  }

  /**
   * An issuer from a secret key: a 32-byte Ed25519 seed, or a 32-byte P-256
   * scalar.
   */
  static fromSecret(
    alg: JwtAlgorithm,
    secret: Uint8Array,
    options: JwtIssuerOptions = {},
  ): JwtIssuer {
    if (alg !== "EdDSA" && alg !== "ES256") {
      throw new JwtConfigError(`unsupported algorithm ${JSON.stringify(alg)}`);
    }
    if (secret.length !== 32) {
      throw new JwtConfigError(`a ${alg} secret key is 32 bytes`);
    }
    return new JwtIssuer(alg, secret, options);
  }

  /** Signs arbitrary claims into a compact JWS (header `{"alg","typ":"JWT"}`). */
  sign(claims: JwtClaims): string {
    const header: JwtHeader = this.#kid === undefined
      ? { alg: this.algorithm, typ: "JWT" }
      : { alg: this.algorithm, typ: "JWT", kid: this.#kid };
    const input = `${b64url(encoder.encode(JSON.stringify(header)))}.${
      b64url(encoder.encode(JSON.stringify(claims)))
    }`;
    const bytes = encoder.encode(input);
    const signature = this.algorithm === "EdDSA"
      ? ed25519.sign(bytes, this.#secret)
      : p256.sign(bytes, this.#secret);
    return `${input}.${b64url(signature)}`;
  }

  /** Makes a ticket for `peerId` on `networkId`. */
  issue(options: IssueJwtOptions): Ticket {
    const now = Date.now();
    const expiresAt = options.expiresAt ??
      (options.expiresIn === undefined ? undefined : now + options.expiresIn);
    if (expiresAt === undefined) {
      throw new JwtConfigError("a JWT ticket needs expiresAt or expiresIn");
    }
    const claims: JwtClaims = {
      ...options.claims,
      sub: options.peerId,
      net: options.networkId,
      iat: seconds(options.issuedAt ?? now),
      exp: seconds(expiresAt),
    };
    if (this.issuer !== undefined) claims.iss = this.issuer;
    if (options.notBefore !== undefined) {
      claims.nbf = seconds(options.notBefore);
    }
    if (options.audience !== undefined) claims.aud = options.audience;
    return {
      kind: this.kind,
      data: encoder.encode(this.sign(claims)),
      expiresAt: claims.exp! * 1000,
    };
  }
}
