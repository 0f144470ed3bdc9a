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
import { decoder, encoder } from "./_jwt_text.ts";
import { DecodeError, MosaikError } from "@mosaik/transport";

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

const B64URL_RE = /^[A-Za-z0-9_-]*$/;

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
