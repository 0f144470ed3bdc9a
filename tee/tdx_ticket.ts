/**
 * TDX tickets: a TDX quote whose REPORTDATA binds the holder's
 * {@linkcode PeerId}, the {@linkcode NetworkId} and an expiry, so a verified
 * quote proves "this peer runs inside a TD with these measurements, on this
 * network, until then".
 *
 * REPORTDATA (all 64 bytes) = SHA-512(`"mosaik.tee.tdx.ticket.v1"` ‖ 0x00 ‖
 * peer id (32 bytes) ‖ network id (32 bytes) ‖ expiry (u64 big-endian Unix
 * milliseconds)). Ticket data = `"MTDX"` ‖ version 1 ‖ expiry (u64 BE ms) ‖
 * quote length (u32 BE) ‖ quote, and nothing after it.
 *
 * {@linkcode tdxValidator} runs the full DCAP verification of the quote
 * (`verifyQuote`: PCK chain to the trust anchor, CRLs, TCB info, QE
 * identity), the measurement policy (`checkPolicy`: expected MRTD/RTMRs,
 * debug TDs refused by default) and the binding. {@linkcode issueTdxTicket}
 * obtains the quote inside a TD through configfs-tsm.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { hash } from "node:crypto";
import {
  copyBytes,
  DecodeError,
  derive,
  digest,
  digestBytes,
  MosaikError,
  peerIdToBytes,
  toHex,
} from "@mosaik/transport";
import type { Digest, NetworkId, PeerId } from "@mosaik/transport";
import type { Collateral } from "./collateral.ts";
import { checkPolicy, type QuotePolicy } from "./policy.ts";
import { PolicyError } from "./errors.ts";
import { parseQuote, type Quote } from "./quote.ts";
import { getTdxQuote, type TsmOptions } from "./tsm.ts";
import { verifyQuote } from "./verify.ts";
import { AcceptedTickets } from "./_accepted.ts";
import { pemToDer } from "./x509.ts";
import type { Ticket, TicketContext, TicketValidator, TicketVerdict } from "@mosaik/transport";

/** The default ticket kind of TDX tickets. */
export const TDX_TICKET_KIND = "tdx";

/** The largest quote a ticket may carry (real TDX quotes are about 5 KiB). */
export const MAX_TDX_QUOTE = 64 * 1024;

const DOMAIN = new TextEncoder().encode("mosaik.tee.tdx.ticket.v1\0");
const MAGIC = [0x4d, 0x54, 0x44, 0x58]; // "MTDX"
const VERSION = 1;
const HEADER = 4 + 1 + 8 + 4;

/** Ticket data is malformed (bad magic, version, length, expiry). */
export class TdxTicketDecodeError extends DecodeError {}

/** The contents of a TDX ticket. */
export interface TdxTicketData {
  /** When the ticket expires, Unix milliseconds (bound into REPORTDATA). */
  expiresAt: number;
  /** The raw DCAP quote. */
  quote: Uint8Array;
}

function checkExpiry(expiresAt: number): void {
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) {
    throw new TdxTicketDecodeError("expiry must be a non-negative integer of milliseconds");
  }
}

/**
 * The 64 REPORTDATA bytes a quote must carry to be a ticket for `peerId` on
 * `networkId` until `expiresAt` (Unix ms).
 *
 * @example
 * ```ts
 * import { tdxReportData } from "@mosaik/tee";
 * import { networkId, SecretKey } from "@mosaik/transport";
 * const rd = tdxReportData(SecretKey.generate().peerId, networkId("demo"), Date.now() + 60_000);
 * console.assert(rd.length === 64);
 * ```
 */
export function tdxReportData(peerId: PeerId, networkId: NetworkId, expiresAt: number): Uint8Array {
  // a plain Uint8Array (a copy of 64 bytes), not node's Buffer: callers compare and slice it
  return new Uint8Array(reportDataBuffer(peerId, networkId, expiresAt));
}

/** {@linkcode tdxReportData} as node's Buffer, not copied (the validator only compares it). */
function reportDataBuffer(peerId: PeerId, networkId: NetworkId, expiresAt: number): Buffer {
  checkExpiry(expiresAt);
  const input = new Uint8Array(DOMAIN.length + 32 + 32 + 8);
  input.set(DOMAIN);
  peerIdToBytes(peerId, input, DOMAIN.length);
  input.set(digestBytes(networkId), DOMAIN.length + 32);
  new DataView(input.buffer).setBigUint64(DOMAIN.length + 64, BigInt(expiresAt));
  return hash("sha512", input, "buffer");
}

/** Encodes ticket data (see the module doc for the layout). */
export function encodeTdxTicket(data: TdxTicketData): Uint8Array {
  checkExpiry(data.expiresAt);
  if (data.quote.length > MAX_TDX_QUOTE) {
    throw new TdxTicketDecodeError(`quote of ${data.quote.length} bytes exceeds ${MAX_TDX_QUOTE}`);
  }
  const out = new Uint8Array(HEADER + data.quote.length);
  out.set(MAGIC);
  out[4] = VERSION;
  const view = new DataView(out.buffer);
  view.setBigUint64(5, BigInt(data.expiresAt));
  view.setUint32(13, data.quote.length);
  out.set(data.quote, HEADER);
  return out;
}

/**
 * Decodes ticket data strictly; throws {@linkcode TdxTicketDecodeError}. The
 * returned quote is a view into `bytes`.
 */
export function decodeTdxTicket(bytes: Uint8Array): TdxTicketData {
  if (bytes.length < HEADER) throw new TdxTicketDecodeError("TDX ticket is truncated");
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new TdxTicketDecodeError("not a TDX ticket");
  if (bytes[4] !== VERSION) {
    throw new TdxTicketDecodeError(`unknown TDX ticket version ${bytes[4]}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const expiry = view.getBigUint64(5);
  if (expiry > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new TdxTicketDecodeError("TDX ticket expiry out of range");
  }
  const length = view.getUint32(13);
  if (length > MAX_TDX_QUOTE) throw new TdxTicketDecodeError("TDX ticket quote too large");
  if (bytes.length !== HEADER + length) {
    throw new TdxTicketDecodeError(
      `TDX ticket declares a ${length}-byte quote but carries ${bytes.length - HEADER} bytes`,
    );
  }
  return { expiresAt: Number(expiry), quote: bytes.subarray(HEADER) };
}

/** Accepted tickets a validator keeps at most (one per peer and network)... */
const ACCEPTED_MAX = 1024;
/**
 * ... and their bytes at most: real tickets are 5-8 KB, but a ticket may be
 * up to {@linkcode MAX_TDX_QUOTE} long, and 1024 of those would be 64 MiB.
 */
const ACCEPTED_BYTES = 8 << 20;

/** A copy of `bytes` as node's Buffer (its `equals` compares natively). */
function bufferCopy(bytes: Uint8Array): Buffer {
  const copy = copyBytes(bytes);
  return Buffer.from(copy.buffer, copy.byteOffset, copy.length);
}

/** A TDX ticket could not be issued (expiry in the past, a quote not carrying the binding). */
export class TdxTicketError extends MosaikError {}

/** Options of {@linkcode tdxValidator}. Give `collateral` or `collateralProvider`. */
export interface TdxValidatorOptions {
  /** Collateral (TCB info, QE identity, CRLs, issuer chains) for the peers' platforms. */
  collateral?: Collateral;
  /**
   * Fetches collateral for a quote (e.g. by its PCK FMSPC from a PCCS). Its
   * result is trusted only after `verifyQuote` checked its signatures.
   */
  collateralProvider?: (quote: Quote) => Collateral | Promise<Collateral>;
  /**
   * Measurement and status policy (see `checkPolicy`): expected MRTD/RTMRs,
   * allowed TCB statuses. Debug TDs are refused unless `allowDebug`. A list
   * means "any of": the quote must satisfy at least one of the policies
   * (for example, the measurements of each image version you accept).
   */
  policy?: QuotePolicy | readonly QuotePolicy[];
  /** Trust anchor (DER or PEM). Default: the pinned Intel SGX Root CA. Tests pass a test root. */
  trustedRoot?: Uint8Array | string;
  /** When set, a ticket may expire at most this many ms after the check. */
  maxLifetime?: number;
  /** The ticket kind to validate. Default {@linkcode TDX_TICKET_KIND}. */
  kind?: string;
}

function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "string") return /^[0-9a-fA-F]+$/.test(value) ? value.toLowerCase() : value;
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * A {@linkcode TicketValidator} for TDX tickets. A ticket is valid when it is
 * not expired, its quote is a TDX quote that passes full DCAP verification
 * against the trust anchor and the policy, and its REPORTDATA binds the
 * presenting peer, the network and the ticket's expiry. The verdict expires
 * at the ticket's expiry or when anything the verification relied on
 * (collateral, certificates) expires, whichever is first; the peer is then
 * disconnected and re-validated on reconnect.
 *
 * @example
 * ```ts ignore
 * import { requireTicket, tdxValidator } from "@mosaik/tee";
 * const gate = requireTicket(tdxValidator({
 *   collateral,
 *   policy: { mrTd: expectedMrTd, rtmr2: expectedRtmr2 },
 * }));
 * streams.produce(Prices, { requireTicket: gate });
 * ```
 */
export function tdxValidator(options: TdxValidatorOptions): TicketValidator {
  const { collateral, collateralProvider } = options;
  if (collateral === undefined && collateralProvider === undefined) {
    throw new TdxTicketError("a TDX validator needs collateral or a collateralProvider");
  }
  const kind = options.kind ?? TDX_TICKET_KIND;
  const root = options.trustedRoot;
  const rootDer = root === undefined
    ? undefined
    : typeof root === "string"
    ? pemToDer(root)[0]
    : root;
  const config = {
    kind,
    policy: canonical(options.policy ?? {}),
    trustedRoot: rootDer === undefined ? "intel" : hash("sha256", rootDer),
    maxLifetime: options.maxLifetime ?? null,
  };
  const policies: QuotePolicy[] = Array.isArray(options.policy)
    ? options.policy.map((p) => ({ ...p }))
    : [{ ...options.policy as QuotePolicy | undefined }];
  if (policies.length === 0) throw new TdxTicketError("an empty policy list accepts nothing");
  // The ticket last accepted per (peer, network), a copy of its bytes, valid
  // from the check until its verdict expires: groups and streams re-check
  // bonded peers often, and with unchanged collateral the outcome cannot
  // change in that window. Compared byte for byte (cheaper than hashing the
  // ticket for a key), and bounded in entries and bytes. Only with
  // `collateral` (a provider may return fresher collateral, e.g. a new CRL,
  // at any time); a changed collateral field clears the cache.
  const accepted = new AcceptedTickets<Buffer>(ACCEPTED_MAX, ACCEPTED_BYTES);
  let fields: unknown[] = [];
  const collateralChanged = (): boolean => {
    const now = Object.values(collateral ?? {});
    const changed = now.length !== fields.length || now.some((v, i) => v !== fields[i]);
    fields = now;
    return changed;
  };
  return {
    kind,
    id: derive<Digest>(digest("mosaik.tee.tdx-validator.v1"), JSON.stringify(config)),
    async validate(ticket: Ticket, ctx: TicketContext): Promise<TicketVerdict> {
      try {
        const { expiresAt, quote: bytes } = decodeTdxTicket(ticket.data);
        const now = ctx.now.getTime();
        if (now >= expiresAt) return { ok: false, reason: "TDX ticket expired" };
        if (options.maxLifetime !== undefined && expiresAt - now > options.maxLifetime) {
          return { ok: false, reason: "TDX ticket lives longer than allowed" };
        }
        const cacheKey = collateral === undefined ? undefined : `${ctx.peerId}|${ctx.networkId}`;
        if (cacheKey !== undefined && collateralChanged()) accepted.clear();
        const hit = cacheKey === undefined ? undefined : accepted.get(cacheKey);
        if (hit && hit.from <= now && now < hit.until && hit.ticket.equals(ticket.data)) {
          return { ok: true, expiresAt: hit.until };
        }
        const quote = parseQuote(bytes);
        if (quote.body.kind === "sgx") return { ok: false, reason: "not a TDX quote" };
        // With collateral at hand, the verification starts first and the
        // binding is computed while it is under way: a ticket bound to
        // another peer costs no more than one with a forged signature, which
        // anyone can present. A provider is asked only for a bound ticket.
        const verifyOptions = { now, trustedRoot: rootDer };
        let verifying = collateral === undefined
          ? undefined
          : verifyQuote(quote, collateral, verifyOptions);
        const expected = reportDataBuffer(ctx.peerId, ctx.networkId, expiresAt);
        if (!expected.equals(quote.body.reportData)) {
          verifying?.catch(() => {});
          return {
            ok: false,
            reason: "REPORTDATA does not bind this peer, network and expiry",
          };
        }
        verifying ??= verifyQuote(quote, await collateralProvider!(quote), verifyOptions);
        // The copy for the cache is made while the verification is under way too.
        const copy = cacheKey === undefined ? undefined : bufferCopy(ticket.data);
        const verdict = await verifying;
        let refusal: PolicyError | undefined;
        for (const policy of policies) {
          try {
            checkPolicy(verdict, policy, { now });
            refusal = undefined;
            break;
          } catch (error) {
            if (!(error instanceof PolicyError)) throw error;
            refusal ??= error;
          }
        }
        if (refusal) {
          const which = policies.length > 1 ? `none of ${policies.length} policies matches; ` : "";
          return { ok: false, reason: which + refusal.message };
        }
        const until = Math.min(expiresAt, verdict.expiresAt);
        if (cacheKey !== undefined && copy !== undefined) {
          accepted.set(cacheKey, { ticket: copy, from: now, until });
        }
        return { ok: true, expiresAt: until };
      } catch (error) {
        if (error instanceof MosaikError) return { ok: false, reason: error.message };
        throw error;
      }
    },
  };
}

/** Options of {@linkcode issueTdxTicket}. Give `expiresAt` or `expiresIn`. */
export interface IssueTdxTicketOptions {
  /** This node's PeerId. */
  peerId: PeerId;
  /** The network the ticket is for. */
  networkId: NetworkId;
  /** Expiry as a Date or Unix milliseconds. */
  expiresAt?: Date | number;
  /** Expiry relative to now, in milliseconds. */
  expiresIn?: number;
  /**
   * Produces a quote over 64 bytes of REPORTDATA. Default: configfs-tsm
   * (`getTdxQuote`) with the `tsm` options.
   */
  quote?: (reportData: Uint8Array) => Promise<Uint8Array>;
  /** Options of the default configfs-tsm quote source. */
  tsm?: TsmOptions;
  /** The ticket kind. Default {@linkcode TDX_TICKET_KIND}. */
  kind?: string;
}

/**
 * Makes this node's TDX ticket: computes the REPORTDATA binding, obtains a
 * quote over it (inside a TD, through configfs-tsm; needs `--allow-read` and
 * `--allow-write` on `/sys/kernel/config/tsm/report`) and checks that the
 * quote carries it. Publish the result with discovery's `setTicket`. Throws
 * `TsmError` when no quote can be obtained, {@linkcode TdxTicketError} for a
 * past expiry or a quote that does not carry the binding.
 *
 * @example
 * ```ts ignore
 * import { issueTdxTicket } from "@mosaik/tee";
 * const ticket = await issueTdxTicket({
 *   peerId: network.local.id,
 *   networkId: network.endpoint.networkId,
 *   expiresIn: 3_600_000,
 * });
 * network.discovery.local.setTicket(ticket);
 * ```
 */
export async function issueTdxTicket(options: IssueTdxTicketOptions): Promise<Ticket> {
  const now = Date.now();
  const at = options.expiresAt ??
    (options.expiresIn === undefined ? undefined : now + options.expiresIn);
  if (at === undefined) throw new TdxTicketError("a TDX ticket needs expiresAt or expiresIn");
  const expiresAt = Math.floor(typeof at === "number" ? at : at.getTime());
  if (!(expiresAt > now)) throw new TdxTicketError("the expiry is in the past");
  const reportData = tdxReportData(options.peerId, options.networkId, expiresAt);
  const quote = options.quote
    ? await options.quote(reportData)
    : await getTdxQuote(reportData, options.tsm);
  const body = parseQuote(quote).body;
  if (body.kind === "sgx" || toHex(body.reportData) !== toHex(reportData)) {
    throw new TdxTicketError("the quote does not carry the ticket's REPORTDATA");
  }
  return {
    kind: options.kind ?? TDX_TICKET_KIND,
    data: encodeTdxTicket({ expiresAt, quote }),
    expiresAt,
  };
}
