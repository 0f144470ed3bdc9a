// Tickets gating consensus groups between real Network nodes: TDX tickets
// signed by a TEST DCAP hierarchy (test root passed explicitly, never Intel's),
// and a JWT ticket whose expiry ends the bond.
import assert from "node:assert/strict";
import { eventually, within } from "@mosaik/transport/testing";
import type { Network } from "@mosaik/network";
import {
  JwtIssuer,
  jwtValidator,
  renewTicket,
  tdxValidator,
  type TicketValidator,
} from "@mosaik/tee";
import { TestDcap } from "@mosaik/tee/testing";
import { startNetworks } from "./_harness.ts";
import { Counter } from "@mosaik/groups/testing";
import { HOUR, seesTicket, tdxTicket } from "./tickets_util.ts";

function join(node: Network, key: string, validators: TicketValidator[]) {
  return node.groups.join({
    key,
    stateMachine: new Counter("tickets.counter/v1"),
    config: { bootstrapExpect: 2 },
    requireTicket: validators,
  });
}

Deno.test("tickets over Network: only TDX-attested nodes bond into the group", async () => {
  const pki = TestDcap.create();
  const rogue = TestDcap.create(); // quotes from a hierarchy the validator does not trust
  await using n = await startNetworks(3);
  n[0].discovery.local.setTicket(await tdxTicket(n[0], pki));
  n[1].discovery.local.setTicket(await tdxTicket(n[1], pki));
  n[2].discovery.local.setTicket(await tdxTicket(n[2], rogue));
  for (const [a, b] of [[0, 1], [1, 0], [0, 2], [1, 2]]) await seesTicket(n[a], n[b], "tdx");
  const validator = tdxValidator({
    collateral: pki.collateral,
    trustedRoot: pki.rootDer,
    policy: { mrTd: new Uint8Array(48).fill(0x11) },
  });
  const key = crypto.randomUUID();
  const g = n.map((node) => join(node, key, [validator]));
  assert.equal(new Set(g.map((x) => x.id)).size, 1, "same validator, same group id");
  await within(eventually(() => g[0].bonds.length === 1 && g[1].bonds.length === 1), 10_000);
  await within(g[0].when.leaderElected(), 10_000);
  const leader = g.find((x) => x.isLeader) ?? g[0];
  const { result } = await within(
    leader.execute({ add: 5 }),
    10_000,
    "commit through the attested pair",
  );
  assert.equal(result, 5);
  assert.deepEqual(g[0].bonds, [n[1].local.id]);
  assert.deepEqual(g[1].bonds, [n[0].local.id]);
  assert.equal(g[2].bonds.length, 0, "the node with an untrusted quote never bonds");
  await Promise.all(g.map((x) => x.close()));
});

Deno.test("tickets over Network: a group bond ends when the peer's ticket expires", async () => {
  await using n = await startNetworks(2);
  const issuer = JwtIssuer.generate("ES256", { issuer: "ops" });
  const validator = jwtValidator({ keys: [issuer.publicKey], issuer: "ops" });
  const issue = (node: Network, expiresIn: number) =>
    issuer.issue({ peerId: node.local.id, networkId: node.networkId, expiresIn });
  const grant = (node: Network, expiresIn: number) => {
    const ticket = issue(node, expiresIn);
    node.discovery.local.setTicket(ticket);
    return ticket;
  };
  grant(n[0], HOUR);
  const short = grant(n[1], 3_000);
  await seesTicket(n[0], n[1], "jwt");
  await seesTicket(n[1], n[0], "jwt");
  const key = crypto.randomUUID();
  const [g0, g1] = n.map((node) => join(node, key, [validator]));
  await within(eventually(() => g0.bonds.length === 1 && g1.bonds.length === 1), 10_000);
  await within(eventually(() => g0.bonds.length === 0), 10_000, "bond dropped at expiry");
  assert.ok(Date.now() >= short.expiresAt!, "not before the ticket expired");
  // A renewed ticket lets the node back in.
  using _renewal = renewTicket({
    issue: () => issue(n[1], HOUR),
    publish: (ticket) => n[1].discovery.local.setTicket(ticket),
  });
  await within(eventually(() => g0.bonds.length === 1), 10_000, "renewed ticket readmitted");
  await Promise.all([g0, g1].map((x) => x.close()));
});
