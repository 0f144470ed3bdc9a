import assert from "node:assert/strict";
import { delay } from "./async.ts";
import { DIALS_AT_ONCE, DIALS_IN_PROCESS, paced, staggered } from "./_dial.ts";
import { Endpoint } from "./endpoint.ts";
import { SecretKey } from "./ids.ts";
import { networkId } from "./vocabulary.ts";

Deno.test("dial: a silent first address costs one stagger, not its timeout", async () => {
  const started: string[] = [];
  let silent: Promise<boolean> | undefined;
  const attempt = (a: string, lost: () => boolean) => {
    started.push(a);
    if (a !== "silent") return Promise.resolve(a);
    silent = delay(1_500).then(lost);
    return silent.then(() => Promise.reject(new Error("late")));
  };
  const t0 = performance.now();
  assert.equal(await staggered(["silent", "good"], attempt, 50), "good");
  assert.ok(performance.now() - t0 < 1_000, "did not wait for the silent one");
  assert.deepEqual(started, ["silent", "good"]);
  assert.equal(await silent, true, "the late attempt is told it lost");
});

Deno.test("dial: later addresses do not start once one connected", async () => {
  const started: string[] = [];
  const winner = await staggered(
    ["a", "b", "c"],
    (a) => {
      started.push(a);
      return Promise.resolve(a);
    },
    50,
  );
  await delay(200);
  assert.equal(winner, "a");
  assert.deepEqual(started, ["a"]);
});

Deno.test("dial: all failing gives every error", async () => {
  const boom = (a: string) => Promise.reject(new Error(a));
  await assert.rejects(staggered(["x"], boom, 10), /x/);
  await assert.rejects(staggered(["x", "y"], boom, 10), (e) => {
    assert.ok(e instanceof AggregateError);
    assert.deepEqual(e.errors.map((x: Error) => x.message), ["x", "y"]);
    return true;
  });
});

Deno.test("dial: handshakes to an address that never answers do not hold up the process's other dials", async () => {
  const net = networkId("dial-turns");
  // A UDP socket that takes every Initial and answers none.
  const silent = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const { port } = silent.addr as Deno.NetAddr;
  await using dialer = await Endpoint.create({ networkId: net, handshakeTimeout: 3_000 });
  await using target = await Endpoint.create({ networkId: net });
  let settled = 0;
  const stuck = Array.from(
    { length: 2 * DIALS_AT_ONCE },
    () =>
      dialer.connect(SecretKey.generate().peerId, [`127.0.0.1:${port}`]).then(
        () => assert.fail("a silent address connected"),
        () => settled++,
      ),
  );
  await dialer.connect(target.peerId, [target.hostPort]);
  assert.equal(settled, 0, "the dial waited for the silent ones to time out");
  silent.close();
  await Promise.all(stuck);
});

Deno.test("dial: handshakes are paced per acceptor address, not across the process", async () => {
  const { promise: answered, resolve: answer } = Promise.withResolvers<void>();
  const started: string[] = [];
  const dial = (address: string) =>
    paced(address, () => {
      started.push(address);
      return answered;
    });
  const busy = Array.from({ length: DIALS_AT_ONCE + 1 }, () => dial("busy:1"));
  const other = dial("other:1");
  assert.equal(started.filter((a) => a === "busy:1").length, DIALS_AT_ONCE, "one waits its turn");
  assert.ok(started.includes("other:1"), "another acceptor's dial did not wait for a turn");
  answer();
  await Promise.all([...busy, other]);
  assert.equal(started.length, DIALS_AT_ONCE + 2);
});

Deno.test("dial: the process runs at most DIALS_IN_PROCESS handshakes at once over all addresses", async () => {
  const { promise: answered, resolve: answer } = Promise.withResolvers<void>();
  let started = 0;
  const dials = Array.from(
    { length: DIALS_IN_PROCESS + 1 },
    (_, i) =>
      paced(`acceptor-${i}:1`, () => {
        started++;
        return answered;
      }),
  );
  assert.equal(started, DIALS_IN_PROCESS, "the last one waits its turn");
  answer();
  await Promise.all(dials);
  assert.equal(started, DIALS_IN_PROCESS + 1);
});
