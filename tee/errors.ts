/**
 * Typed errors of `@mosaik/tee`.
 *
 * @module
 */
import { DecodeError, MosaikError } from "@mosaik/transport";

/**
 * A quote's bytes do not follow the DCAP layout. `offset` is the byte offset
 * (from the start of the quote) of the field that was rejected.
 */
export class QuoteParseError extends DecodeError {
  /** Creates the error for the field at `offset`. */
  constructor(message: string, readonly offset: number) {
    super(`${message} (at offset ${offset})`);
  }
}

/**
 * DER, PEM, X.509 certificate or CRL bytes are malformed. `offset` is the byte
 * offset inside the DER (or PEM) input that was rejected.
 */
export class DerError extends DecodeError {
  /** Creates the error for the element at `offset`. */
  constructor(message: string, readonly offset: number) {
    super(`${message} (at DER offset ${offset})`);
  }
}

/** Collateral (TCB info, QE identity, CRLs, issuer chains) is malformed. */
export class CollateralFormatError extends DecodeError {}

/** Why a quote failed verification (see {@linkcode QuoteVerificationError}). */
export type VerificationFailure =
  | "unsupported"
  | "quote_signature"
  | "qe_report_signature"
  | "qe_report_binding"
  | "certificate_chain"
  | "certificate_expired"
  | "revoked"
  | "crl"
  | "tcb_info"
  | "qe_identity"
  | "collateral_expired"
  | "fmspc_mismatch"
  | "tdx_module_mismatch"
  | "qe_identity_mismatch"
  | "tcb_not_supported";

/**
 * A quote, its certificates or its collateral failed one of the DCAP checks.
 * `code` names the failed step so callers can log or branch on it.
 */
export class QuoteVerificationError extends MosaikError {
  /** Creates the error for the failed step `code`. */
  constructor(readonly code: VerificationFailure, message: string, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
  }
}

/** Why a verified quote was refused by a policy (see {@linkcode PolicyError}). */
export type PolicyFailure =
  | "status"
  | "debug"
  | "td_attributes"
  | "measurement"
  | "service_td"
  | "report_data"
  | "age";

/** A verified quote does not satisfy the caller's {@linkcode QuotePolicy}. */
export class PolicyError extends MosaikError {
  /** Creates the error for the failed rule `code`. */
  constructor(readonly code: PolicyFailure, message: string) {
    super(`${code}: ${message}`);
  }
}

/** Why quote acquisition through configfs-tsm failed (see {@linkcode TsmError}). */
export type TsmFailure = "unavailable" | "permission" | "provider" | "generation" | "io";

/** A quote could not be obtained through configfs-tsm. */
export class TsmError extends MosaikError {
  /** Creates the error for the failure `code`. */
  constructor(readonly code: TsmFailure, message: string, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
  }
}
