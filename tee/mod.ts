/**
 * Intel TDX / SGX attestation for mosaik: parse DCAP quotes (SGX v3, TDX v4
 * and v5), verify them fully against Intel's collateral (PCK chain to the
 * pinned Intel SGX Root CA, CRLs, TCB info, QE identity, TDX module identity),
 * apply a measurement policy, and obtain quotes inside a TD via configfs-tsm.
 *
 * Verify a quote with its collateral and apply a policy:
 *
 * ```ts ignore
 * import { checkPolicy, parseQuote, verifyQuote } from "@mosaik/tee";
 * const bytes = await Deno.readFile("quote.bin");
 * const collateral = JSON.parse(await Deno.readTextFile("collateral.json"));
 * const verdict = await verifyQuote(bytes, collateral, { now: new Date() });
 * checkPolicy(verdict, { mrTd: "91eb2b44..." });
 * console.log(verdict.status, parseQuote(bytes).header.version);
 * ```
 *
 * Malformed input never crashes: every decoder throws a typed `DecodeError`.
 *
 * ```ts
 * import { INTEL_SGX_ROOT_CA_DER, parseCertificate, parseQuote, QuoteParseError } from "@mosaik/tee";
 * console.assert(parseCertificate(INTEL_SGX_ROOT_CA_DER).commonName === "Intel SGX Root CA");
 * try {
 *   parseQuote(new Uint8Array([4, 0, 2, 0]));
 * } catch (e) {
 *   console.assert(e instanceof QuoteParseError && e.offset === 4);
 * }
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./quote.ts";
export * from "./report.ts";
export * from "./x509.ts";
export * from "./crl.ts";
export * from "./pck_extensions.ts";
export * from "./renew.ts";
export * from "./jwt.ts";
export * from "./jwt_issuer.ts";
export * from "./jwt_validator.ts";
export * from "./tdx_ticket.ts";
export * from "./collateral.ts";
export * from "./root.ts";
export * from "./verify.ts";
export * from "./policy.ts";
export * from "./tsm.ts";
// Types of @mosaik/transport that appear in this package's public API.
export {
  checkTickets,
  DecodeError,
  MosaikError,
  requireTicket,
  scheduleExpiry,
  TicketExpiryError,
} from "@mosaik/transport";
export type {
  RequireTicketOptions,
  Ticket,
  TicketContext,
  TicketGate,
  TicketHolder,
  TicketValidator,
  TicketVerdict,
} from "@mosaik/transport";
export type { Digest, NetworkId, PeerId } from "@mosaik/transport";
