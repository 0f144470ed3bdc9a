/**
 * Parsing of `host:port` and `<peerId>@host:port` addresses.
 *
 * @module
 */
import { DecodeError } from "./errors.ts";
import { parsePeerId, type PeerId } from "./ids.ts";

/** A host and port. IPv6 hosts are written without brackets. */
export interface HostPort {
  /** Host name or literal IP address. */
  hostname: string;
  /** UDP port. */
  port: number;
}

/**
 * Parses `host:port` or `[v6]:port`; throws {@linkcode DecodeError}.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "@mosaik/transport";
 * console.assert(parseHostPort("[::1]:80").hostname === "::1");
 * ```
 */
export function parseHostPort(text: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new DecodeError(`invalid address ${JSON.stringify(text)}`);
  return { hostname: m[1] ?? m[2], port };
}

/** Formats a host and port, bracketing IPv6 hosts. */
export function formatHostPort({ hostname, port }: HostPort): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * Parses a peer address `<peerId>@host:port`; throws {@linkcode DecodeError}.
 *
 * @example
 * ```ts ignore
 * const { peerId, address } = parsePeerAddress(node.address);
 * ```
 */
export function parsePeerAddress(text: string): { peerId: PeerId; address: string } {
  const at = text.indexOf("@");
  if (at < 0) throw new DecodeError(`expected <peerId>@host:port, got ${JSON.stringify(text)}`);
  const address = text.slice(at + 1);
  parseHostPort(address);
  return { peerId: parsePeerId(text.slice(0, at)), address };
}
