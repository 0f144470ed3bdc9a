import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  decode,
  DecodeError,
  digest,
  encode,
  fromHex,
  networkId,
  SecretKey,
  type StreamId,
  tag,
} from "@mosaik/transport";
import {
  claimedPeer,
  compareVersions,
  decodeSignedEntry,
  InvalidEntryError,
  nextVersion,
  type PeerEntry,
  signEntry,
  verifyEntry,
} from "./entry.ts";
import { decodeDeparture, signDeparture } from "./departure.ts";

const key = SecretKey.from("entry-test");
const net = networkId("entry-test-net");
const base: PeerEntry = {
  network: net,
  peerId: key.peerId,
  version: { start: 1000, counter: 2000 },
  addresses: ["127.0.0.1:2", "127.0.0.1:1", "127.0.0.1:1"],
  tags: [tag("b"), tag("a")],
  streams: [],
  groups: [],
  tickets: [{ kind: "jwt", data: new Uint8Array([1, 2]), expiresAt: 5 }, {
    kind: "a",
    data: new Uint8Array(0),
  }],
};

Deno.test("entry: sign and decode round trip, canonical", () => {
  const s = signEntry(key, base);
  const d = decodeSignedEntry(s.bytes);
  assert.deepEqual(d.entry, s.entry);
  assert.deepEqual(d.entry.addresses, ["127.0.0.1:1", "127.0.0.1:2"]);
  assert.deepEqual(d.entry.tags, [tag("a"), tag("b")].sort());
  assert.deepEqual(d.entry.tickets.map((t) => t.kind), ["a", "jwt"]);
  assert.equal(d.entry.tickets[1].expiresAt, 5);
  assert.ok(Object.isFrozen(d.entry) && Object.isFrozen(d.entry.tags));
  // The same entry in another order signs to the same bytes.
  const again = signEntry(key, { ...base, tags: [tag("a"), tag("b")] });
  assert.deepEqual(again.bytes, s.bytes);
});

Deno.test("entry: consumed streams round trip beside placement and coordinate, or alone", () => {
  const [s1, s2] = [digest<StreamId>("s1"), digest<StreamId>("s2")];
  const alone = signEntry(key, { ...base, consumes: [s2, s1, s2] });
  assert.deepEqual(decodeSignedEntry(alone.bytes).entry.consumes, [s1, s2].sort());
  const placed = signEntry(key, { ...base, consumes: [s1], placement: { region: "eu" } });
  const d = decodeSignedEntry(placed.bytes).entry;
  assert.deepEqual([d.consumes, d.placement?.region], [[s1], "eu"]);
  // Nothing consumed: the field is absent, the bytes as before it existed.
  assert.deepEqual(signEntry(key, { ...base, consumes: [] }).bytes, signEntry(key, base).bytes);
});

Deno.test("entry: signing with another key is refused", () => {
  assert.throws(() => signEntry(SecretKey.generate(), base), DecodeError);
});

Deno.test("entry: a tampered entry fails verification", () => {
  const s = signEntry(key, base);
  // Forge: a body signed by someone else but claiming `key`'s peer id.
  const other = SecretKey.generate();
  const forged = signEntry(other, { ...base, peerId: other.peerId });
  const otherId = other.publicKey;
  const bytes = forged.bytes.slice();
  const at = findBytes(bytes, otherId);
  bytes.set(key.publicKey, at);
  assert.throws(
    () => decodeSignedEntry(bytes),
    (e) => e instanceof InvalidEntryError && e.reason === "bad-signature",
  );
  assert.ok(decodeSignedEntry(s.bytes));
});

Deno.test("entry: once verified, only the very same bytes pass unverified again", async () => {
  const s = signEntry(key, base);
  assert.ok(decodeSignedEntry(s.bytes)); // now among the verified bytes
  const [body, signature] = decode(s.bytes) as [Uint8Array, Uint8Array];
  const badSignature = signature.slice();
  badSignature[10] ^= 1;
  const badBody = body.slice();
  badBody[badBody.length - 1] ^= 1;
  for (const forged of [encode([body, badSignature]), encode([badBody, signature])]) {
    const refused = (e: unknown) => e instanceof InvalidEntryError && e.reason === "bad-signature";
    assert.throws(() => decodeSignedEntry(forged), refused);
    await assert.rejects(verifyEntry(forged), refused);
  }
  assert.equal((await verifyEntry(s.bytes)).entry.peerId, key.peerId);
});

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("not found");
}

Deno.test("entry: versions order by start, then counter", () => {
  assert.ok(compareVersions({ start: 2, counter: 0 }, { start: 1, counter: 9 }) > 0);
  assert.ok(compareVersions({ start: 1, counter: 1 }, { start: 1, counter: 2 }) < 0);
  const v = nextVersion({ start: 1, counter: 10 }, 5);
  assert.deepEqual(v, { start: 1, counter: 11 });
  assert.deepEqual(nextVersion({ start: 1, counter: 10 }, 50), { start: 1, counter: 50 });
});

Deno.test("entry: departures verify", () => {
  const d = signDeparture(key, net, { start: 1, counter: 2 }, 3);
  const back = decodeDeparture(d.bytes);
  assert.equal(back.peerId, key.peerId);
  assert.deepEqual(back.version, { start: 1, counter: 2 });
  // An entry is not a departure and vice versa.
  assert.throws(() => decodeDeparture(signEntry(key, base).bytes), InvalidEntryError);
  assert.throws(() => decodeSignedEntry(d.bytes), InvalidEntryError);
});

Deno.test("entry: fuzzed input only ever throws InvalidEntryError", () => {
  const valid = signEntry(key, base).bytes;
  const check = (bytes: Uint8Array) => {
    for (const f of [decodeSignedEntry, decodeDeparture]) {
      try {
        f(bytes);
      } catch (e) {
        if (!(e instanceof InvalidEntryError)) throw e;
      }
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 2000 });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (edits) => {
        const b = valid.slice();
        for (const [i, v] of edits) b[i] = v;
        check(b);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("entry: verifyEntry (native) agrees with decodeSignedEntry", async () => {
  const s = signEntry(key, base);
  assert.deepEqual((await verifyEntry(s.bytes)).entry, decodeSignedEntry(s.bytes).entry);
  const bad = s.bytes.slice();
  bad[bad.length - 1] ^= 1; // last signature byte
  await assert.rejects(
    verifyEntry(bad),
    (e) => e instanceof InvalidEntryError && e.reason === "bad-signature",
  );
  await assert.rejects(verifyEntry(new Uint8Array([1, 2])), InvalidEntryError);
});

Deno.test("entry: placement and coordinate round trip; bad ones are refused", () => {
  const coordinate = { vec: [1.25, -3, 0, 0, 0, 0, 0, 0], error: 0.4, adjustment: -0.1, height: 2 };
  const placement = { region: "eu-west-1", zone: "eu-west-1a", location: { lat: 53.3, lon: -6.2 } };
  const d = decodeSignedEntry(signEntry(key, { ...base, placement, coordinate }).bytes).entry;
  assert.deepEqual(d.placement, placement);
  assert.deepEqual(d.coordinate, coordinate);
  assert.ok(Object.isFrozen(d.coordinate) && Object.isFrozen(d.placement?.location));
  assert.equal(decodeSignedEntry(signEntry(key, base).bytes).entry.coordinate, undefined);
  for (
    const bad of [
      { coordinate: { ...coordinate, vec: [NaN] } },
      { coordinate: { ...coordinate, height: 1e300 } },
      { coordinate: { ...coordinate, error: -1 } },
      { placement: { region: "x".repeat(65) } },
      { placement: { region: "" } },
      { placement: { location: { lat: 91, lon: 0 } } },
      { placement: { location: { lat: 0, lon: NaN } } },
    ]
  ) {
    const raw = signEntry(key, { ...base, ...bad } as PeerEntry).bytes;
    assert.throws(
      () => decodeSignedEntry(raw),
      (e) => e instanceof InvalidEntryError && e.reason === "undecodable",
      JSON.stringify(bad),
    );
  }
});

Deno.test("entry: claimedPeer reads the peer id without decoding the entry; garbage gives undefined", () => {
  const key = SecretKey.generate();
  const signed = signEntry(key, {
    network: networkId("claimed"),
    peerId: key.peerId,
    version: { start: 1, counter: 2 },
    addresses: ["127.0.0.1:1"],
    tags: [],
    streams: [],
    groups: [],
    tickets: [],
  });
  assert.equal(claimedPeer(signed.bytes), key.peerId);
  for (
    const junk of [new Uint8Array(0), encode([1, 2]), encode([encode(["x"]), new Uint8Array(64)])]
  ) {
    assert.equal(claimedPeer(junk), undefined);
  }
  assert.equal(claimedPeer(signed.bytes.subarray(0, 40)), undefined);
});

Deno.test("entry: an entry under a small-order or non-canonical key is refused, though its signature checks natively", async () => {
  // The 8 points of order dividing 8, with either sign bit, and y = p, p + 1.
  const order8 = ed25519.Point.fromHex(
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  );
  const keys: Uint8Array[] = [];
  for (let i = 0n; i < 8n; i++) {
    const p = i === 0n ? ed25519.Point.ZERO : order8.multiply(i);
    const bytes = p.toBytes();
    keys.push(bytes, Uint8Array.from(bytes, (b, j) => j === 31 ? b ^ 0x80 : b));
  }
  for (const y of ["ed", "ee"]) keys.push(fromHex(y + "ff".repeat(30) + "7f"));
  const template = decode(signEntry(key, base).bytes) as [Uint8Array, Uint8Array];
  const fields = decode(template[0]) as unknown[];
  for (const weak of keys) {
    fields[2] = weak;
    const body = encode(fields);
    // R = the identity point, S = 0: what a small-order key "signs" anything with.
    const forged = new Uint8Array(64);
    forged[0] = 1;
    const raw = encode([body, forged]);
    await assert.rejects(verifyEntry(raw), InvalidEntryError);
    assert.throws(() => decodeSignedEntry(raw), InvalidEntryError);
  }
});
