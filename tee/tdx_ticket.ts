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
 * @module
 */
import { sha512 } from "@noble/hashes/sha2.js";
import { DecodeError, digestBytes, peerIdToBytes } from "@mosaik/transport";
import type { NetworkId, PeerId } from "@mosaik/transport";

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
  checkExpiry(expiresAt);
  const input = new Uint8Array(DOMAIN.length + 32 + 32 + 8);
  input.set(DOMAIN);
  input.set(peerIdToBytes(peerId), DOMAIN.length);
  input.set(digestBytes(networkId), DOMAIN.length + 32);
  new DataView(input.buffer).setBigUint64(DOMAIN.length + 64, BigInt(expiresAt));
  return sha512(input);
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
