// Refuses HTTP requests whose Host header names anything but this server:
// a web page the user visits could otherwise point a name it controls at
// 127.0.0.1 (DNS rebinding) and read the node's topology with the browser.
import type { MiddlewareHandler } from "hono";

const LOOPBACK = ["127.0.0.1", "localhost", "[::1]"];

/**
 * A middleware that answers 421 unless the request's Host is the bound
 * address, a loopback name when bound to loopback, or in `allowed` (names,
 * with or without a port).
 */
export function hostCheck(
  bound: () => { hostname: string; port: number },
  allowed: readonly string[] = [],
): MiddlewareHandler {
  return async (c, next) => {
    const host = (c.req.header("host") ?? "").toLowerCase();
    const { hostname, port } = bound();
    const own = hostname.includes(":") ? `[${hostname}]` : hostname;
    const names = [own, ...allowed.map((a) => a.toLowerCase())];
    if (LOOPBACK.includes(own) || own === "[::]" || own === "0.0.0.0") names.push(...LOOPBACK);
    const ok = names.some((name) => host === name || host === `${name}:${port}`);
    if (!ok) return c.text("unknown host", 421);
    await next();
  };
}
