import assert from "node:assert/strict";
import {
  type Coordinate,
  decodeCoordinate,
  distance,
  encodeCoordinate,
  originCoordinate,
  Vivaldi,
} from "./vivaldi.ts";

const close = (actual: number | undefined, expected: number, eps = 1e-9) =>
  assert.ok(Math.abs(actual! - expected) < eps, `${actual} is not ${expected}`);

// Two dimensions, no gravity, no adjustment unless asked: the arithmetic below stays by hand.
const plain = { dimensions: 2, heightMin: 0, adjustmentWindow: 0, gravityRho: Infinity };
const at = (vec: number[], height = 0, error = 1.5): Coordinate => ({
  vec,
  error,
  adjustment: 0,
  height,
});

Deno.test("vivaldi: worked example, one sample longer than predicted", () => {
  const v = new Vivaldi(plain);
  // predicted 5, measured 10: wrongness 0.5, weight 1.5/3 = 0.5,
  // error 0.25·0.5·0.5 + 1.5·(1 − 0.125) = 1.375, force 0.25·0.5·(10 − 5) = 0.625
  // away from (3, 4): the unit vector (−0.6, −0.8).
  assert.ok(v.update("b", at([3, 4]), 10));
  close(v.coordinate.vec[0], -0.375);
  close(v.coordinate.vec[1], -0.5);
  close(v.coordinate.error, 1.375);
  close(v.predict(at([3, 4])), 5.625);
});

Deno.test("vivaldi: worked example with heights", () => {
  const v = new Vivaldi({ ...plain, heightMin: 0.01 });
  // a peer of height 1: predicted 5 + 0.01 + 1 = 6.01, measured 10: wrongness 0.399, force 0.125·3.99 = 0.49875;
  // the height grows by (0.01 + 1)·0.49875/5.
  assert.ok(v.update("b", at([3, 4], 1), 10));
  close(v.coordinate.height, 0.01 + 1.01 * 0.49875 / 5);
  close(v.coordinate.vec[0], -0.6 * 0.49875);
  close(v.coordinate.error, 0.25 * 0.5 * 0.399 + 1.5 * 0.875);
});

Deno.test("vivaldi: the adjustment is half the mean residual over the window", () => {
  const v = new Vivaldi({ ...plain, adjustmentWindow: 2 });
  v.update("b", at([3, 4]), 10);
  // raw distance after the move 5.625, residual 4.375, over 2·2 samples.
  close(v.coordinate.adjustment, 4.375 / 4);
  close(v.predict(at([3, 4])), 5.625 + 4.375 / 4);
});

Deno.test("vivaldi: gravity pulls back towards the origin", () => {
  const v = new Vivaldi({ ...plain, gravityRho: 10 });
  v.update("b", at([3, 4]), 10);
  // after the sample the coordinate is 0.625 ms from the origin, gravity −1000·(0.625/10)² ms.
  const far = Math.hypot(...v.coordinate.vec);
  close(far, Math.abs(0.625 - 1000 * (0.625 / 10) ** 2));
});

Deno.test("vivaldi: the median filter drops a lone glitch", () => {
  const a = new Vivaldi(plain);
  const b = new Vivaldi(plain);
  const peer = at([3, 4]);
  for (const ms of [10, 10, 1000]) a.update("p", peer, ms);
  for (const ms of [10, 10, 10]) b.update("p", peer, ms);
  assert.deepEqual(a.coordinate, b.coordinate);
  a.forget("p");
  a.update("p", peer, 1000); // a fresh filter takes the sample as is
  assert.ok(a.predict(peer)! > b.predict(peer)! + 10);
});

Deno.test("vivaldi: bad samples and bad coordinates change nothing", () => {
  const v = new Vivaldi(plain);
  v.update("b", at([3, 4]), 10);
  const before = v.coordinate;
  for (const ms of [-1, -0.001, NaN, Infinity, 10_001, 1e12]) {
    assert.equal(v.update("b", at([3, 4]), ms), false, `rtt ${ms}`);
  }
  assert.equal(v.update("b", at([NaN, 4]), 10), false);
  assert.equal(v.update("b", { ...at([3, 4]), height: Infinity }, 10), false);
  assert.equal(v.update("b", at([3, 4, 5]), 10), false);
  assert.equal(v.coordinate, before);
});

Deno.test("vivaldi: a zero RTT counts as 1 µs and pulls the nodes together", () => {
  const v = new Vivaldi(plain);
  assert.ok(v.update("b", at([3, 4]), 0));
  // wrongness (5 − 0.001)/0.001 is huge, but the error stays capped and the force bounded.
  close(v.coordinate.error, 1.5);
  close(v.predict(at([3, 4])), 5 - 0.125 * (5 - 0.001));
  assert.ok(v.coordinate.vec.every(Number.isFinite));
});

Deno.test("vivaldi: two nodes at the same place split in some direction", () => {
  const a = new Vivaldi({ dimensions: 3 });
  assert.ok(a.update("b", originCoordinate({ dimensions: 3 }), 20));
  assert.ok(Math.hypot(...a.coordinate.vec) > 1);
});

Deno.test("vivaldi: converges on a 5×5 grid as serf's simulation does", () => {
  const n = 25;
  const truth = (i: number, j: number) =>
    10 * Math.hypot((i % 5) - (j % 5), Math.floor(i / 5) - Math.floor(j / 5));
  const nodes = Array.from({ length: n }, () => new Vivaldi());
  for (let cycle = 0; cycle < 1000; cycle++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(Math.random() * n);
      if (j !== i) nodes[i].update(`${j}`, nodes[j].coordinate, truth(i, j));
    }
  }
  const errors: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      errors.push(Math.abs(nodes[i].predict(nodes[j].coordinate)! - truth(i, j)) / truth(i, j));
    }
  }
  const mean = errors.reduce((a, b) => a + b) / errors.length;
  assert.ok(mean < 0.02, `mean relative error ${mean}`); // serf's bound for this run: 0.0016
});

Deno.test("vivaldi: latency filters are bounded", () => {
  const peer = at([3, 4]);
  const bounded = new Vivaldi({ ...plain, maxPeers: 2 });
  const roomy = new Vivaldi({ ...plain, maxPeers: 10 });
  for (const v of [bounded, roomy]) {
    for (const p of ["a", "a", "b", "c", "a"]) v.update(p, peer, p === "a" ? 10 : 11);
    v.update("a", peer, 500); // roomy: median(10, 10, 500); bounded forgot "a" at "c"
  }
  assert.ok(bounded.predict(peer)! > roomy.predict(peer)! + 10);
});

Deno.test("vivaldi: wire form round-trips and refuses what is out of bounds", () => {
  const c = { vec: [1.5, -2], error: 0.3, adjustment: -0.5, height: 0.2 };
  assert.deepEqual(decodeCoordinate(encodeCoordinate(c)), c);
  assert.equal(distance(c, c), 0.4); // the adjustments would make it negative
  for (
    const bad of [
      null,
      [[1], 0.1, 0],
      [[], 0.1, 0, 0],
      [new Array(17).fill(0), 0.1, 0, 0],
      [[NaN], 0.1, 0, 0],
      [[1e8], 0.1, 0, 0],
      [[1], -1, 0, 0],
      [[1], 0.1, 0, -1],
      [[1], 0.1, Infinity, 0],
      [["1"], 0.1, 0, 0],
    ]
  ) {
    assert.throws(() => decodeCoordinate(bad), `${JSON.stringify(bad)}`);
  }
});
