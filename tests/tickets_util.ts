// Shared fixtures of the ticket suites: real Network nodes on loopback that
// found each other, a TEST DCAP hierarchy issuing TDX tickets, and waiting
// until a peer's ticket has been gossiped.
import { eventually, within } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { issueTdxTicket, type Ticket } from "@mosaik/tee";
import type { TestDcap } from "../tee/tdx_ticket_testing.ts";

/** One hour in milliseconds. */
export const HOUR = 3_600_000;

/** `n` nodes of a fresh network, all bootstrapped from the first and known to each other. */
export async function nodes(n: number): Promise<Network[] & AsyncDisposable> {
  const name = crypto.randomUUID();
  const out: Network[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await Network.create(name, {
        listen: "127.0.0.1:0",
        mdns: false,
        dht: false,
        bootstrap: i === 0 ? [] : [out[0].local.address],
      }),
    );
  }
  await Promise.all(
    out.map((x) => within(x.discovery.when.peers({ minimum: n - 1 }), 10_000, "discovery")),
  );
  return Object.assign(out, {
    async [Symbol.asyncDispose]() {
      await Promise.all(out.map((x) => x.close()));
    },
  });
}

/** Resolves once `holder`'s catalog shows a ticket of `kind` in `of`'s entry. */
export function seesTicket(holder: Network, of: Network, kind: string): Promise<unknown> {
  return eventually(
    () => holder.discovery.catalog.get(of.local.id)?.tickets.some((t) => t.kind === kind),
    { message: `ticket ${kind} gossiped` },
  );
}

/** A TDX ticket for `node`, its quote signed by the test hierarchy `authority`. */
export function tdxTicket(node: Network, authority: TestDcap, expiresIn = HOUR): Promise<Ticket> {
  return issueTdxTicket({
    peerId: node.local.id,
    networkId: node.networkId,
    expiresIn,
    quote: (reportData) => Promise.resolve(authority.quote({ reportData })),
  });
}
