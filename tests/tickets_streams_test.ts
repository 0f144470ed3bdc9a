// Tickets gating streams between real Network nodes: QUIC on loopback, gossip
// discovery carrying the tickets in signed peer entries. JWT tickets, and TDX
// tickets whose quotes are signed by a TEST DCAP hierarchy (never chained to
// Intel's root; the test root is passed to the validator explicitly).
import assert from "node:assert/strict";
import { eventually, within } from "@mosaik/transport/testing";
import { stream } from "@mosaik/streams";
import { JwtIssuer, jwtValidator, renewTicket, tdxValidator } from "@mosaik/tee";
import { TestDcap } from "@mosaik/tee/testing";
import { startNetworks } from "./_harness.ts";
import { HOUR, seesTicket, tdxTicket } from "./tickets_util.ts";

const Data = stream<string>("tickets.data", { schema: "string/v1" });

Deno.test("tickets over Network: JWT-gated producer serves the ticket holder only", async () => {
  await using cluster = await startNetworks(3);
  const [a, b, c] = cluster;
  const net = a.networkId;
  const issuer = JwtIssuer.generate("ES256", { issuer: "ops" });
  b.discovery.local.setTicket(
    issuer.issue({ peerId: b.local.id, networkId: net, expiresIn: HOUR }),
  );
  // c holds a ticket for b (copied from gossip): useless, sub binds the holder.
  c.discovery.local.setTicket(
    issuer.issue({ peerId: b.local.id, networkId: net, expiresIn: HOUR }),
  );
  await seesTicket(a, b, "jwt");
  await seesTicket(a, c, "jwt");
  const gate = jwtValidator({ keys: [issuer.publicKey], issuer: "ops" });
  const producer = a.streams.produce(Data, { requireTicket: gate });
  const served = b.streams.consume(Data);
  const refused = c.streams.consume(Data);
  await within(served.when.subscribed(), 10_000, "ticket holder subscribed");
  await eventually(() => producer.stats.rejected >= 1, { message: "c refused" });
  assert.deepEqual(producer.consumers().map((x) => x.consumerId), [b.local.id]);
  await eventually(() => refused.producers().length === 0, { message: "c drops the refusal" });
  await producer.send("hello");
  assert.equal(await within(served.recv(), 5000), "hello");
  await refused.close();
  await served.close();
});

Deno.test("tickets over Network: an expired JWT ticket disconnects the consumer", async () => {
  await using cluster = await startNetworks(2);
  const [a, b] = cluster;
  const net = a.networkId;
  const issuer = JwtIssuer.generate("EdDSA");
  const ticket = issuer.issue({ peerId: b.local.id, networkId: net, expiresIn: 2_000 });
  b.discovery.local.setTicket(ticket);
  await seesTicket(a, b, "jwt");
  const producer = a.streams.produce(Data, {
    requireTicket: jwtValidator({ keys: [issuer.publicKey] }),
  });
  const consumer = b.streams.consume(Data);
  await within(producer.when.subscribed(), 10_000, "subscribed before expiry");
  await producer.send("before-expiry");
  assert.equal(await within(consumer.recv(), 5000), "before-expiry");
  await within(producer.when.unsubscribed(), 10_000, "expired ticket disconnects");
  assert.ok(Date.now() >= ticket.expiresAt!, "dropped at expiry, not before");
  await within(consumer.when.unsubscribed(), 5000);
  await consumer.close();
});

Deno.test("tickets over Network: a consumer drops a producer whose ticket expired", async () => {
  await using cluster = await startNetworks(2);
  const [a, b] = cluster; // a consumes, b produces with a short ticket
  const net = a.networkId;
  const issuer = JwtIssuer.generate("ES256");
  const ticket = issuer.issue({ peerId: b.local.id, networkId: net, expiresIn: 2_000 });
  b.discovery.local.setTicket(ticket);
  await seesTicket(a, b, "jwt");
  const producer = b.streams.produce(Data);
  const consumer = a.streams.consume(Data, {
    requireTicket: jwtValidator({ keys: [issuer.publicKey] }),
  });
  await within(consumer.when.subscribed(), 10_000, "subscribed before expiry");
  await producer.send("before-expiry");
  assert.equal(await within(consumer.recv(), 5000), "before-expiry");
  await within(consumer.when.unsubscribed(), 10_000, "producer dropped at expiry");
  assert.ok(Date.now() >= ticket.expiresAt!, "dropped at expiry, not before");
  await consumer.close();
});

Deno.test("tickets over Network: a renewed ticket keeps the subscription past the first expiry", async () => {
  await using cluster = await startNetworks(2);
  const [a, b] = cluster;
  const net = a.networkId;
  const issuer = JwtIssuer.generate("EdDSA");
  using renewal = renewTicket({
    issue: () => issuer.issue({ peerId: b.local.id, networkId: net, expiresIn: 3_000 }),
    publish: (t) => b.discovery.local.setTicket(t),
    margin: 1_200,
  });
  const first = await renewal.ready;
  await seesTicket(a, b, "jwt");
  const producer = a.streams.produce(Data, {
    requireTicket: jwtValidator({ keys: [issuer.publicKey] }),
  });
  const consumer = b.streams.consume(Data);
  await within(producer.when.subscribed(), 10_000);
  await eventually(() => Date.now() > first.expiresAt! + 500, { message: "first ticket expired" });
  assert.notEqual(renewal.current, first);
  await producer.send("still-here");
  assert.equal(await within(consumer.recv(), 5000), "still-here");
  assert.equal(producer.stats.accepted, 1, "never disconnected");
  await consumer.close();
});

Deno.test("tickets over Network: TDX-gated producer serves a peer with a valid TDX ticket only", async () => {
  const pki = TestDcap.create();
  const rogue = TestDcap.create(); // a different (test) hierarchy: not trusted by the validator
  await using cluster = await startNetworks(4);
  const [a, b, c, d] = cluster; // b: valid ticket, c: untrusted quote, d: no ticket
  b.discovery.local.setTicket(await tdxTicket(b, pki));
  c.discovery.local.setTicket(await tdxTicket(c, rogue));
  await seesTicket(a, b, "tdx");
  await seesTicket(a, c, "tdx");
  const gate = tdxValidator({
    collateral: pki.collateral,
    trustedRoot: pki.rootDer,
    policy: { mrTd: new Uint8Array(48).fill(0x11) },
  });
  const producer = a.streams.produce(Data, { requireTicket: gate });
  const served = b.streams.consume(Data);
  const refused = [c, d].map((n) => n.streams.consume(Data));
  await within(served.when.subscribed(), 10_000, "attested peer subscribed");
  await eventually(() => producer.stats.rejected >= 2, { message: "unattested peers refused" });
  assert.deepEqual(producer.consumers().map((x) => x.consumerId), [b.local.id]);
  await eventually(() => refused.every((r) => r.producers().length === 0), {
    message: "refused consumers drop the producer",
  });
  await producer.send("attested");
  assert.equal(await within(served.recv(), 5000), "attested");
  await Promise.all([...refused, served].map((x) => x.close()));
});

Deno.test("tickets over Network: a TDX-gated consumer only subscribes to attested producers", async () => {
  const pki = TestDcap.create();
  await using cluster = await startNetworks(3);
  const [a, b, c] = cluster; // a consumes; b attested producer; c producer without ticket
  b.discovery.local.setTicket(await tdxTicket(b, pki));
  await seesTicket(a, b, "tdx");
  const attested = b.streams.produce(Data);
  c.streams.produce(Data);
  await eventually(() => a.discovery.catalog.withStream(Data.id).length === 2);
  const consumer = a.streams.consume(Data, {
    requireTicket: tdxValidator({ collateral: pki.collateral, trustedRoot: pki.rootPem }),
  });
  await within(consumer.when.subscribed(), 10_000);
  assert.deepEqual(consumer.producers().map((x) => x.producerId), [b.local.id]);
  await attested.send("from-td");
  assert.equal(await within(consumer.recv(), 5000), "from-td");
  await consumer.close();
});
