/**
 * Which `host:port` addresses a node advertises in its entry.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "@mosaik/transport";

/**
 * The addresses to advertise for an endpoint bound at `hostPort`. A specific
 * host is advertised as is; an unspecified one (`0.0.0.0`, `::`) becomes one
 * address per network interface (loopback last, so remote peers try
 * reachable ones first). Without `--allow-sys` it falls back to loopback.
 */
export function advertisedAddresses(hostPort: string): string[] {
  const { hostname, port } = parseHostPort(hostPort);
  const v6 = hostname === "::";
  if (hostname !== "0.0.0.0" && !v6) return [hostPort];
  const loopback = [formatHostPort({ hostname: v6 ? "::1" : "127.0.0.1", port })];
  let interfaces: Deno.NetworkInterfaceInfo[];
  try {
    interfaces = Deno.networkInterfaces();
  } catch {
    return loopback;
  }
  const usable = interfaces.filter((i) =>
    (i.family === "IPv4" || v6) && !i.address.toLowerCase().startsWith("fe80")
  );
  const isLoopback = (a: string) => a === "::1" || a.startsWith("127.");
  const external = usable.filter((i) => !isLoopback(i.address));
  const addresses = [
    ...new Set(external.map((i) => formatHostPort({ hostname: i.address, port }))),
  ];
  return [...addresses, ...loopback];
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
