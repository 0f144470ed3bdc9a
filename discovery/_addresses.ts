/**
 * Which `host:port` addresses a node advertises in its entry.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "@mosaik/transport";

/** Whether `host` is an IP literal other hosts cannot use: loopback, link-local or unspecified. */
export function isLocalOnly(host: string): boolean {
  const h = host.toLowerCase();
  return h === "::1" || h === "::" || h === "0.0.0.0" || h.startsWith("127.") ||
    h.startsWith("169.254.") || /^fe[89ab]/.test(h) || h.startsWith("::ffff:127.");
}

/**
 * The addresses to advertise for an endpoint bound at `hostPort`. A specific
 * host is advertised as is; an unspecified one (`0.0.0.0`, or dual-stack
 * `::`) becomes one address per network interface, IPv4 first. Loopback and
 * link-local addresses (unusable from other hosts; link-local would need a
 * scope) are left out unless there is nothing else, then loopback is used.
 * Without `--allow-sys=networkInterfaces` it falls back to loopback.
 */
export function advertisedAddresses(
  hostPort: string,
  interfaces: () => Deno.NetworkInterfaceInfo[] = Deno.networkInterfaces,
): string[] {
  const { hostname, port } = parseHostPort(hostPort);
  const v6 = hostname === "::";
  if (hostname !== "0.0.0.0" && !v6) return [hostPort];
  const loopback = [formatHostPort({ hostname: v6 ? "::1" : "127.0.0.1", port })];
  let found: Deno.NetworkInterfaceInfo[];
  try {
    found = interfaces();
  } catch {
    return loopback;
  }
  const usable = found
    .filter((i) => (i.family === "IPv4" || v6) && !isLocalOnly(i.address))
    .sort((a, b) => (a.family === b.family ? 0 : a.family === "IPv4" ? -1 : 1));
  const addresses = [...new Set(usable.map((i) => formatHostPort({ hostname: i.address, port })))];
  return addresses.length > 0 ? addresses : loopback;
}

/**
 * A node bound to every interface publishes `0.0.0.0:port` (or `[::]:port`);
 * whoever reached it at `host` can use `host:port` instead. Other addresses
 * are returned unchanged. Throws a `DecodeError` on a malformed address.
 */
export function specifyHost(address: string, host: string): string {
  const { hostname, port } = parseHostPort(address);
  if (hostname !== "0.0.0.0" && hostname !== "::") return address;
  return formatHostPort({ hostname: host, port });
}
