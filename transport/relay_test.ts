import assert from "node:assert/strict";
import {
  CloseCode,
  ConnectError,
  Endpoint,
  holePunching,
  networkId,
  parseRelayAddress,
  Relay,
  relayAddress,
  type RelayLimits,
  RelayReservation,
} from "./mod.ts";
import { eventually, within } from "./testing.ts";

const NET = networkId("relay-test");

/** A relay R, a node N with a reservation at R, and a peer P; all on loopback. */
async function trio(limits: Partial<RelayLimits> = {}) {
  const [r, n, p] = await Promise.all([0, 1, 2].map(() => Endpoint.create({ networkId: NET })));
  const relay = Relay.serve(r, limits);
  n.handle("/echo/1", async (ch) => {
    for await (const m of ch) await ch.send(m);
  });
  const reservation = new RelayReservation(n, r.address);
  return {
    r,
    n,
    p,
    relay,
    reservation,
    async [Symbol.asyncDispose]() {
      await reservation.close();
      await Promise.all([p.close(), n.close(), r.close()]);
    },
  };
}

Deno.test("relay: a peer reaches a node only through its relay; QUIC and identities run end to end", async () => {
  await using t = await trio();
  await eventually(() => t.reservation.state === "reserved");
  assert.equal(t.reservation.address, `relay:${t.r.address}`);
  assert.deepEqual(parseRelayAddress(t.reservation.address), {
    peerId: t.r.peerId,
    address: t.r.hostPort,
  });
  const ch = await within(t.p.open(t.n.peerId, [t.reservation.address], "/echo/1"), 10_000);
  await ch.send("through the relay");
  assert.equal(await ch.recv(), "through the relay");
  const there = t.p.connection(t.n.peerId)!;
  assert.equal(there.path, "relayed");
  assert.equal(t.n.connection(t.p.peerId)?.path, "relayed", "N tells its bridge's packets apart");
  assert.notEqual(there.remoteAddress, t.n.hostPort, "the bridge socket, not N's endpoint");
  assert.equal(t.n.connection(t.p.peerId)?.peerId, t.p.peerId, "N verified P's proof");
  assert.ok(
    t.relay.stats.packets > 0 && t.relay.stats.circuits === 1,
    JSON.stringify(t.relay.stats),
  );
  const big = new Uint8Array(256 << 10).fill(7);
  await ch.send(big);
  assert.deepEqual(await ch.recv(), big);
  await ch.close();
  there.close();
  await eventually(() => t.relay.stats.circuits === 0);
});

Deno.test("relay: refusals are typed — no reservation, too many reservations", async () => {
  await using t = await trio({ maxReservations: 1 });
  await eventually(() => t.reservation.state === "reserved");
  await assert.rejects(t.p.connect(t.r.peerId, [relayAddress(t.r.address)]), (e) => {
    assert.match(String((e as Error).cause), /cannot relay to itself/);
    return true;
  });
  // P holds no reservation: reaching it through the relay is refused.
  await assert.rejects(t.n.connect(t.p.peerId, [relayAddress(t.r.address)]), (e) => {
    assert.ok(e instanceof ConnectError);
    const cause = (e as { cause?: unknown }).cause as ConnectError;
    assert.equal(cause.closeCode, CloseCode.RelayNoReservation, String(cause));
    return true;
  });
  const second = new RelayReservation(t.p, t.r.address);
  try {
    await eventually(() => (t.relay.stats.refused.RelayLimit ?? 0) > 0);
    assert.equal(second.state, "reserving");
  } finally {
    await second.close();
  }
  assert.equal(t.relay.stats.reservations, 1);
});

Deno.test("relay: a circuit over its byte rate drops packets, and QUIC still delivers", async () => {
  await using t = await trio({ bytesPerSecond: 256 << 10 });
  await eventually(() => t.reservation.state === "reserved");
  const ch = await within(t.p.open(t.n.peerId, [t.reservation.address], "/echo/1"), 10_000);
  const big = new Uint8Array(512 << 10).fill(1);
  const t0 = performance.now();
  await ch.send(big);
  assert.deepEqual(await within(ch.recv(), 30_000), big);
  const ms = performance.now() - t0;
  assert.ok(t.relay.stats.dropped > 0, JSON.stringify(t.relay.stats));
  assert.ok(ms > 2_000, `1 MiB both ways at 256 KiB/s took ${ms} ms`);
  await ch.close();
});

Deno.test("relay: a reservation comes back after the relay cut it off", async () => {
  await using t = await trio();
  await eventually(() => t.reservation.state === "reserved");
  t.r.faults.block(t.n.peerId); // closes the connection and refuses new ones
  await eventually(() => t.reservation.state === "reserving");
  assert.equal(t.relay.stats.reservations, 0);
  t.r.faults.unblock(t.n.peerId);
  await eventually(() => t.reservation.state === "reserved", { timeout: 15_000 });
  const ch = await within(t.p.open(t.n.peerId, [t.reservation.address], "/echo/1"), 10_000);
  await ch.send("again");
  assert.equal(await ch.recv(), "again");
  await ch.close();
});

Deno.test("punch: over a relayed connection both ends dial each other; new channels go direct and the relayed one closes when idle", async () => {
  await using t = await trio();
  const stats = [t.p, t.n].map((e) => holePunching(e, () => [e.hostPort]));
  await eventually(() => t.reservation.state === "reserved");
  const ch = await within(t.p.open(t.n.peerId, [t.reservation.address], "/echo/1"), 10_000);
  const relayed = t.p.connection(t.n.peerId)!;
  assert.equal(relayed.path, "relayed");
  await eventually(() => t.p.connection(t.n.peerId)?.path === "direct", { message: "direct" });
  await eventually(() => t.n.connection(t.p.peerId)?.path === "direct"); // its accept may lag
  assert.ok(stats[0].direct + stats[1].direct > 0, JSON.stringify(stats));
  await ch.send("still relayed");
  assert.equal(await ch.recv(), "still relayed");
  assert.ok(!relayed.isClosed, "a busy relayed connection stays");
  await ch.close();
  await eventually(() => relayed.isClosed, { message: "the idle relayed connection closes" });
  const again = await t.p.open(t.n.peerId, [], "/echo/1");
  await again.send("direct");
  assert.equal(await again.recv(), "direct");
  assert.equal(t.p.connection(t.n.peerId)?.path, "direct");
  await again.close();
});
