/**
 * `@mosaik/network`: the one entry point of a mosaik node. It binds a QUIC
 * endpoint, runs discovery and carries the streams and groups subsystems.
 *
 * Needs `--unstable-net` and `--allow-net` for the listen address and peers.
 *
 * @example
 * ```ts
 * import { Network } from "@mosaik/network";
 * await using a = await Network.create("my-app", { listen: "127.0.0.1:0", mdns: false, dht: false });
 * await using b = await Network.create("my-app", {
 *   listen: "127.0.0.1:0",
 *   mdns: false,
 *   dht: false,
 *   bootstrap: [a.local.address],
 * });
 * await b.discovery.when.peers({ minimum: 1 });
 * console.log(b.discovery.catalog.get(a.local.id)?.addresses);
 * ```
 *
 * @module
 */
export * from "./diagnostics.ts";
export * from "./errors.ts";
export * from "./network.ts";
