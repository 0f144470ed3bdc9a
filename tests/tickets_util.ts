// Shared fixtures of the ticket suites (nodes come from ./_harness.ts): a
// TEST DCAP hierarchy issuing TDX tickets, and waiting until a peer's ticket
// has been gossiped.
import { eventually } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { issueTdxTicket, type Ticket } from "@mosaik/tee";
import type { TestDcap } from "@mosaik/tee/testing";

/** One hour in milliseconds. */
export const HOUR = 3_600_000;

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
