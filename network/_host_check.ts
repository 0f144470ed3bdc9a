// Refuses HTTP requests whose Host header names anything but this server:
// a web page the user visits could otherwise point a name it controls at
// 127.0.0.1 (DNS rebinding) and read the node's topology with the browser.
import type { MiddlewareHandler } from "hono";

const LOOPBACK = ["127.0.0.1", "localhost", "[::1]"];
const WILDCARD = ["0.0.0.0", "[::]"];

/** `host` as it appears in a Host header (IPv6 in brackets, without a zone). */
function asHost(address: string): string {
  const bare = address.split("%")[0].toLowerCase();
  return bare.includes(":") ? `[${bare}]` : bare;
}

/**
 * The addresses of this machine's interfaces, as Host header names; only
 * loopback ones without `--allow-sys`.
 */
function interfaceHosts(): string[] {
  try {
    return Deno.networkInterfaces().map((i) => asHost(i.address));
  } catch {
    return LOOPBACK;
  }
}

/**
 * A middleware that answers 421 unless the request's Host is the bound
 * address, a loopback name when bound to loopback, one of this machine's
 * interface addresses when bound to all interfaces (`0.0.0.0`, `::`), or in
 * `allowed` (names, with or without a port).
 */
export function hostCheck(
  bound: () => { hostname: string; port: number },
  allowed: readonly string[] = [],
): MiddlewareHandler {
  // Computed per request: interfaces may change while the server runs.
  const allowedNames = () => {
    const own = asHost(bound().hostname);
    const names = [own, ...allowed.map((a) => a.toLowerCase())];
    if (LOOPBACK.includes(own)) names.push(...LOOPBACK);
    if (WILDCARD.includes(own)) names.push(...LOOPBACK, ...interfaceHosts());
    return names;
  };
  return async (c, next) => {
    const host = (c.req.header("host") ?? "").toLowerCase();
    const { port } = bound();
    const ok = allowedNames().some((name) => host === name || host === `${name}:${port}`);
    if (!ok) return c.text("unknown host", 421);
    await next();
  };
}
