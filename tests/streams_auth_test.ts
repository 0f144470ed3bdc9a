// Streams acceptance, part 3: RTT and tag predicates, tickets (@mosaik/tee's
// JWT validator), re-evaluation when entries change, consumer `when`.
import assert from "node:assert/strict";
import { eventually, within } from "@mosaik/transport/testing";
import { hasTags, rttBelow, stream } from "@mosaik/streams";
import { JwtIssuer, jwtValidator } from "@mosaik/tee";
import { cluster, type TestNode } from "./streams_harness.ts";

const Data1 = stream<string>("tests.auth.data1");

const ids = (
  infos: { producerId?: string; consumerId?: string }[],
  key: "producerId" | "consumerId",
) => infos.map((i) => i[key]).sort();
const sorted = (...xs: string[]) => [...xs].sort();

Deno.test("streams: producer require rttBelow accepts fast peers", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const p = n0.streams.produce(Data1, { require: rttBelow(5000) });
    const r = n1.streams.consume(Data1);
    await within(r.when.subscribed(), 5000);
    await within(p.when.subscribed(), 5000);
    await p.send("rtt-ok");
    assert.equal(await within(r.recv(), 5000), "rtt-ok");
    assert.ok(p.consumers()[0].peer.rtt! < 5000);
  } finally {
    await c.close();
  }
});

Deno.test("streams: producer require rttBelow rejects slow peers (RTT measured at accept)", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const p = n0.streams.produce(Data1, { require: rttBelow(1e-6) });
    n1.streams.consume(Data1);
    await eventually(() => p.stats.rejected >= 1, { timeout: 3000 });
    assert.equal(p.consumers().length, 0);
    assert.equal(p.stats.accepted, 0);
  } finally {
    await c.close();
  }
});

Deno.test("streams: consumer require rttBelow accepts fast producers", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const p = n0.streams.produce(Data1);
    const r = n1.streams.consume(Data1, { require: rttBelow(5000) });
    await within(r.when.subscribed(), 5000);
    await p.send("rtt-ok");
    assert.equal(await within(r.recv(), 5000), "rtt-ok");
  } finally {
    await c.close();
  }
});

Deno.test("streams: consumer require rttBelow rejects slow producers without subscribing", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const p = n0.streams.produce(Data1);
    const r = n1.streams.consume(Data1, { require: rttBelow(1e-6) });
    await eventually(() => n1.streams.rtt(n0.id) !== undefined, { timeout: 3000 });
    await eventually(() => r.producers().length === 0);
    assert.equal(p.stats.accepted + p.stats.rejected, 0, "never even asked to subscribe");
  } finally {
    await c.close();
  }
});

Deno.test("streams: producer require with two tags admits only consumers carrying both", async () => {
  const c = await cluster(4, { tags: [[], ["tag1", "tag2"], ["tag1"], ["tag3"]] });
  try {
    const [n0, both, one, other] = c.nodes;
    const p = n0.streams.produce(Data1, {
      require: [(x) => x.hasTag("tag1"), (x) => x.hasTag("tag2")],
    });
    const cBoth = both.streams.consume(Data1);
    const cOne = one.streams.consume(Data1);
    const cOther = other.streams.consume(Data1);
    await within(cBoth.when.subscribed(), 2000);
    await within(p.when.subscribed(), 2000);
    await eventually(() => p.stats.rejected >= 2, { timeout: 3000 });
    await eventually(() => cOne.producers().length === 0 && cOther.producers().length === 0);
    assert.deepEqual(ids(p.consumers(), "consumerId"), [both.id]);
  } finally {
    await c.close();
  }
});

Deno.test("streams: producer require hasTags admits only tagged consumers", async () => {
  const c = await cluster(4, { tags: [[], [], ["tag1", "tag2"], ["tag3", "tag4"]] });
  try {
    const [n0, n1, n3, n4] = c.nodes;
    const p0 = n0.streams.produce(Data1, { require: hasTags("tag2") });
    const p1 = n1.streams.produce(Data1);
    const c3 = n3.streams.consume(Data1);
    const c4 = n4.streams.consume(Data1);
    await within(c3.when.subscribed({ minimum: 2 }), 2000);
    await within(c4.when.subscribed({ minimum: 1 }), 2000);
    await within(p0.when.subscribed({ minimum: 1 }), 2000);
    await within(p1.when.subscribed({ minimum: 2 }), 2000);
    assert.deepEqual(ids(p0.consumers(), "consumerId"), [n3.id]);
    assert.deepEqual(ids(p1.consumers(), "consumerId"), sorted(n3.id, n4.id));
  } finally {
    await c.close();
  }
});

Deno.test("streams: consumer require with tags subscribes only to producers carrying them", async () => {
  const c = await cluster(4, { tags: [[], ["tag1", "tag2"], ["tag1"], ["tag3"]] });
  try {
    const [n0, both, one, other] = c.nodes;
    for (const n of [both, one, other]) n.streams.produce(Data1);
    const strict = n0.streams.consume(Data1, { require: [hasTags("tag1"), hasTags("tag2")] });
    const any = n0.streams.consume(Data1);
    await within(strict.when.subscribed(), 2000);
    await within(any.when.subscribed({ minimum: 3 }), 2000);
    assert.deepEqual(ids(strict.producers(), "producerId"), [both.id]);
    assert.deepEqual(ids(any.producers(), "producerId"), sorted(both.id, one.id, other.id));
  } finally {
    await c.close();
  }
});

Deno.test("streams: consumer re-evaluates tags when entries change", async () => {
  const c = await cluster(3, { tags: [[], ["leader"], ["follower"]] });
  try {
    const [n0, n1, n2] = c.nodes;
    n1.streams.produce(Data1);
    n2.streams.produce(Data1);
    const r = n0.streams.consume(Data1, { require: hasTags("leader") });
    await within(r.when.subscribed(), 3000);
    assert.deepEqual(ids(r.producers(), "producerId"), [n1.id]);
    n1.setTags([]);
    await within(r.when.unsubscribed(), 3000);
    assert.equal(r.producers().length, 0);
    n2.setTags(["leader"]);
    await within(r.when.subscribed(), 3000);
    assert.deepEqual(ids(r.producers(), "producerId"), [n2.id]);
  } finally {
    await c.close();
  }
});

Deno.test("streams: producer re-evaluates a subscribed consumer's entry", async () => {
  const c = await cluster(2, { tags: [[], ["trusted"]] });
  try {
    const [n0, n1] = c.nodes;
    const p = n0.streams.produce(Data1, { require: hasTags("trusted") });
    const r = n1.streams.consume(Data1);
    await within(p.when.subscribed(), 3000);
    n1.setTags([]);
    await within(p.when.unsubscribed(), 3000, "dropped once untrusted");
    await within(r.when.unsubscribed(), 3000);
  } finally {
    await c.close();
  }
});

function tickets(nodes: TestNode[]) {
  const issuer = JwtIssuer.generate("EdDSA", { issuer: "ops" });
  const net = nodes[0].endpoint.networkId;
  const gate = jwtValidator({ keys: [issuer.publicKey], issuer: "ops" });
  const valid = (n: TestNode) =>
    n.setTickets([issuer.issue({ peerId: n.id, networkId: net, expiresIn: 3_600_000 })]);
  const expired = (n: TestNode) =>
    n.setTickets([issuer.issue({
      peerId: n.id,
      networkId: net,
      issuedAt: Date.now() - 7_200_000,
      expiresAt: Date.now() - 3_600_000,
    })]);
  return { issuer, net, gate, valid, expired };
}

Deno.test("streams: a producer requiring a JWT ticket admits valid holders and refuses expired and missing tickets", async () => {
  const c = await cluster(4);
  try {
    const [n0, n1, n2, n3] = c.nodes;
    const t = tickets(c.nodes);
    t.valid(n1);
    t.expired(n2);
    const p = n0.streams.produce(Data1, { requireTicket: t.gate });
    const c1 = n1.streams.consume(Data1);
    const c2 = n2.streams.consume(Data1);
    const c3 = n3.streams.consume(Data1);
    await within(c1.when.subscribed(), 3000);
    await eventually(() => p.stats.rejected >= 2, { timeout: 5000 });
    await eventually(() => c2.producers().length === 0 && c3.producers().length === 0);
    assert.deepEqual(ids(p.consumers(), "consumerId"), [n1.id]);
    await p.send("one");
    assert.equal(await within(c1.recv(), 2000), "one");
    assert.equal(c1.producers().length, 1);
  } finally {
    await c.close();
  }
});

Deno.test("streams: a ticket's expiry ends the subscription; a fresh ticket lets it back in", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const t = tickets(c.nodes);
    n1.setTickets([t.issuer.issue({ peerId: n1.id, networkId: t.net, expiresIn: 1_500 })]);
    const p = n0.streams.produce(Data1, { requireTicket: t.gate });
    const r = n1.streams.consume(Data1);
    await within(p.when.subscribed(), 3000);
    await within(p.when.unsubscribed(), 4000, "expired ticket disconnects");
    await within(r.when.unsubscribed(), 3000);
    t.valid(n1);
    await within(r.when.subscribed(), 5000, "renewed ticket readmitted");
  } finally {
    await c.close();
  }
});

Deno.test("streams: consumer requireTicket: only producers with valid tickets", async () => {
  const c = await cluster(4);
  try {
    const [n0, n1, n2, n3] = c.nodes;
    const t = tickets(c.nodes);
    t.valid(n1);
    t.expired(n2);
    const p1 = n1.streams.produce(Data1);
    n2.streams.produce(Data1);
    n3.streams.produce(Data1);
    const r = n0.streams.consume(Data1, { requireTicket: t.gate });
    await within(r.when.subscribed(), 5000);
    assert.deepEqual(ids(r.producers(), "producerId"), [n1.id]);
    await p1.send("hello");
    assert.equal(await within(r.recv(), 2000), "hello");
  } finally {
    await c.close();
  }
});

Deno.test("streams: tickets required on both sides, two issuers (all validators must pass)", async () => {
  const c = await cluster(4);
  try {
    const [n0, n1, n2, n3] = c.nodes;
    const net = n0.endpoint.networkId;
    const alpha = JwtIssuer.generate("EdDSA", { issuer: "alpha" });
    const beta = JwtIssuer.generate("ES256", { issuer: "beta" });
    const gate = [
      jwtValidator({ keys: [alpha.publicKey], issuer: "alpha", kind: "alpha" }),
      jwtValidator({ keys: [beta.publicKey], issuer: "beta", kind: "beta" }),
    ];
    const a = (n: TestNode) => ({
      ...alpha.issue({ peerId: n.id, networkId: net, expiresIn: 3e6 }),
      kind: "alpha",
    });
    const b = (n: TestNode) => ({
      ...beta.issue({ peerId: n.id, networkId: net, expiresIn: 3e6 }),
      kind: "beta",
    });
    n0.setTickets([a(n0), b(n0)]);
    n1.setTickets([a(n1), b(n1)]);
    n2.setTickets([a(n2)]);
    n3.setTickets([b(n3)]);
    const p = n0.streams.produce(Data1, { requireTicket: gate });
    const [c1, c2, c3] = [n1, n2, n3].map((n) => n.streams.consume(Data1, { requireTicket: gate }));
    await within(c1.when.subscribed(), 3000);
    await eventually(() => p.stats.rejected >= 2, { timeout: 5000 });
    assert.deepEqual(ids(p.consumers(), "consumerId"), [n1.id]);
    await eventually(() => c2.producers().length + c3.producers().length === 0);
    await p.send("multi");
    assert.equal(await within(c1.recv(), 3000), "multi");
  } finally {
    await c.close();
  }
});

/** Whether `p` has settled after pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

Deno.test("streams: consumer when.* promises follow producers coming and going", async () => {
  const c = await cluster(3);
  try {
    const [n0, n1, n2] = c.nodes;
    const r = n1.streams.consume(Data1);
    const cond2 = () => r.when.subscribed({ minimum: 2 });
    const cond3 = () => r.when.subscribed({ minimum: 2, unmet: true });
    assert.ok(!(await settled(r.when.subscribed())));
    assert.ok(!(await settled(cond2())));
    assert.ok(await settled(cond3()));
    assert.ok(await settled(r.when.unsubscribed()));
    n0.streams.produce(Data1);
    await within(r.when.subscribed(), 3000);
    assert.ok(!(await settled(cond2())));
    n2.streams.produce(Data1);
    await within(cond2(), 3000);
    assert.ok(!(await settled(cond3())));
    assert.ok(!(await settled(r.when.unsubscribed())));
    await n2.close();
    await within(cond3(), 3000);
    const n3 = await c.add();
    n3.streams.produce(Data1);
    await within(cond2(), 3000);
    assert.ok(!(await settled(cond3())));
  } finally {
    await c.close();
  }
});

Deno.test("streams: consumer onlineWhen with tags counts only tagged producers", async () => {
  const c = await cluster(3, { tags: [[], ["t1", "t2"], ["t1", "t2"]] });
  try {
    const [n0, n1, n2] = c.nodes;
    const r = n0.streams.consume(Data1, { onlineWhen: { minimum: 2, tags: ["t1", "t2"] } });
    assert.ok(!r.online);
    n1.streams.produce(Data1);
    await within(r.when.subscribed(), 3000);
    assert.ok(!r.online);
    n2.streams.produce(Data1);
    await within(r.when.online(), 3000);
    await n2.close();
    await within(r.when.offline(), 3000);
  } finally {
    await c.close();
  }
});

Deno.test("streams: consumer goes offline when a catalog change makes a producer ineligible", async () => {
  const c = await cluster(3, { tags: [[], ["trusted"], ["trusted"]] });
  try {
    const [n0, n1, n2] = c.nodes;
    n1.streams.produce(Data1);
    n2.streams.produce(Data1);
    const r = n0.streams.consume(Data1, {
      require: hasTags("trusted"),
      onlineWhen: { minimum: 2 },
    });
    await within(r.when.online(), 3000);
    n1.setTags([]);
    await within(r.when.offline(), 3000);
  } finally {
    await c.close();
  }
});

Deno.test("streams: a consumer is online at once by default", async () => {
  const c = await cluster(1);
  try {
    const r = c.nodes[0].streams.consume(Data1);
    assert.ok(r.online);
    await within(r.when.online(), 1000);
  } finally {
    await c.close();
  }
});

Deno.test("streams: a declaration's producer and consumer defaults apply to every handle", async () => {
  const c = await cluster(3, { tags: [["trusted"], ["trusted"], []] });
  try {
    const [n0, n1, n2] = c.nodes;
    const Tagged = stream<string>("tests.auth.tagged", {
      producer: { require: hasTags("trusted"), onlineWhen: { minimum: 1 } }, // consumers must be trusted
      consumer: { require: hasTags("trusted") }, // producers must be trusted
    });
    // producer side: only the trusted consumer gets in
    const p = n0.streams.produce(Tagged);
    const c1 = n1.streams.consume(Tagged, { require: () => true });
    const c2 = n2.streams.consume(stream<string>("tests.auth.tagged"));
    await within(c1.when.subscribed(), 3000);
    await eventually(() => p.stats.rejected >= 1, { timeout: 3000 });
    assert.deepEqual(ids(p.consumers(), "consumerId"), [n1.id]);
    // the producer's refusal reaches the untrusted consumer a moment after the producer counted it
    await eventually(() => c2.producers().length === 0);
    assert.equal(c2.producers().length, 0);
    await p.send("for the trusted");
    assert.equal(await within(c1.recv(), 3000), "for the trusted");
    // consumer side: only the trusted producer is used; call options add to the defaults
    const Other = stream<string>("tests.auth.other", { consumer: { require: hasTags("trusted") } });
    n1.streams.produce(Other);
    n2.streams.produce(Other);
    const picky = n0.streams.consume(Other);
    await within(picky.when.subscribed(), 3000);
    assert.deepEqual(ids(picky.producers(), "producerId"), [n1.id]);
    const none = n0.streams.consume(Other, { require: (x) => x.peerId === n2.id });
    await eventually(() => none.producers().length === 0);
    assert.equal(none.producers().length, 0, "both requirements must hold");
  } finally {
    await c.close();
  }
});

Deno.test("streams: a producer's ticket expiry ends the consumer's subscription to it", async () => {
  const c = await cluster(2);
  try {
    const [n0, n1] = c.nodes;
    const t = tickets(c.nodes);
    n1.setTickets([t.issuer.issue({ peerId: n1.id, networkId: t.net, expiresIn: 1_500 })]);
    const p = n1.streams.produce(Data1);
    const r = n0.streams.consume(Data1, { requireTicket: t.gate });
    await within(r.when.subscribed(), 3000);
    await within(r.when.unsubscribed(), 4000, "expired ticket: the consumer lets go");
    assert.equal(r.producers().length, 0);
    await within(p.when.unsubscribed(), 3000);
    t.valid(n1);
    await within(r.when.subscribed(), 5000, "a renewed ticket brings it back");
  } finally {
    await c.close();
  }
});
