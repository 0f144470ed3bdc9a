// Issuing JWT tickets with one signing key.
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import type { NetworkId, PeerId } from "@mosaik/transport";
import type { Ticket } from "@mosaik/transport";
import {
  JWT_TICKET_KIND,
  type JwtAlgorithm,
  type JwtClaims,
  JwtConfigError,
  type JwtHeader,
  type JwtPublicKey,
} from "./jwt.ts";
import { b64url, encoder } from "./_jwt_text.ts";

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
