// Tickets gating replicated collections between real Network nodes (the
// shape of the Rust suite's *_auth_tickets tests): writer and reader hold
// valid tickets and replicate; a reader without one never sees the data.
import assert from "node:assert/strict";
import { TimeoutError } from "@mosaik/transport";
import { within } from "@mosaik/transport/testing";
import { SharedMap } from "@mosaik/collections";
import { JwtIssuer, jwtValidator, tdxValidator, type TicketValidator } from "@mosaik/tee";
import { TestDcap } from "@mosaik/tee/testing";
import { startNetworks } from "./_harness.ts";
import { HOUR, seesTicket, tdxTicket } from "./tickets_util.ts";

async function replicates(
  n: Awaited<ReturnType<typeof startNetworks>>,
  validator: TicketValidator,
): Promise<void> {
  const name = crypto.randomUUID();
  const options = { requireTicket: [validator] };
  const writer = SharedMap.writer<number, number>(n[0], name, options);
  const reader = SharedMap.reader<number, number>(n[1], name, options);
  const outsider = SharedMap.reader<number, number>(n[2], name, options);
  assert.equal(writer.storeId, outsider.storeId);
  await within(writer.when.online(), 10_000, "writer online");
  await within(reader.when.online(), 10_000, "reader online");
  const version = await writer.insert(1, 100);
  await within(reader.when.reaches(version), 5000);
  assert.equal(reader.get(1), 100);
  // The outsider's group never bonds: it finds no leader and gets no data.
  const online = outsider.when.online();
  online.catch(() => {}); // rejected when the outsider closes
  await assert.rejects(within(online, 1500, "outsider online"), TimeoutError);
  assert.equal(outsider.online, false);
  assert.equal(outsider.get(1), undefined);
  assert.equal(outsider.version, 0);
  await Promise.all([writer, reader, outsider].map((x) => x.close()));
}

Deno.test("tickets over Network: a JWT-gated SharedMap replicates to ticket holders only", async () => {
  await using n = await startNetworks(3);
  const issuer = JwtIssuer.generate("EdDSA", { issuer: "mosaik.test.jwt.issuer" });
  for (const node of [n[0], n[1]]) {
    node.discovery.local.setTicket(
      issuer.issue({ peerId: node.local.id, networkId: node.networkId, expiresIn: HOUR }),
    );
  }
  for (const [a, b] of [[0, 1], [1, 0], [2, 0]]) await seesTicket(n[a], n[b], "jwt");
  await replicates(n, jwtValidator({ keys: [issuer.publicKey], issuer: "mosaik.test.jwt.issuer" }));
});

Deno.test("tickets over Network: a TDX-gated SharedMap replicates to attested nodes only", async () => {
  const pki = TestDcap.create();
  await using n = await startNetworks(3);
  n[0].discovery.local.setTicket(await tdxTicket(n[0], pki));
  n[1].discovery.local.setTicket(await tdxTicket(n[1], pki));
  n[2].discovery.local.setTicket(await tdxTicket(n[2], TestDcap.create())); // untrusted root
  for (const [a, b] of [[0, 1], [1, 0], [2, 0], [0, 2]]) await seesTicket(n[a], n[b], "tdx");
  await replicates(n, tdxValidator({ collateral: pki.collateral, trustedRoot: pki.rootDer }));
});
