import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { p256 } from "@noble/curves/nist.js";
import { fromHex, networkId, SecretKey, toHex } from "@mosaik/transport";
import {
  decodeJwt,
  JwtConfigError,
  JwtDecodeError,
  JwtIssuer,
  JwtRejectedError,
  jwtValidator,
  verifyJwt,
} from "./mod.ts";
import { requireTicket, type Ticket, type TicketVerdict } from "@mosaik/transport";

const net = networkId("mosaik.test.jwt.network");
const peer = SecretKey.generate().peerId;
const other = SecretKey.generate().peerId;
const enc = new TextEncoder();
const dec = new TextDecoder();
const HOUR = 3_600_000;
const ctx = (now = new Date()) => ({ peerId: peer, networkId: net, now });
const b64 = (s: string | Uint8Array) =>
  (typeof s === "string" ? enc.encode(s) : s).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
const token = (t: Ticket) => dec.decode(t.data);
const reason = (v: TicketVerdict) => (v.ok ? "" : v.reason);

async function rejects(fn: () => Promise<unknown>, code: string) {
  await assert.rejects(fn, (e: unknown) => e instanceof JwtRejectedError && e.code === code);
}

for (const alg of ["EdDSA", "ES256"] as const) {
  Deno.test(`jwt ${alg}: a valid ticket is accepted until its exp`, async () => {
    const issuer = JwtIssuer.generate(alg, { issuer: "mosaik.test.jwt.issuer" });
    const before = Date.now();
    const ticket = issuer.issue({ peerId: peer, networkId: net, expiresIn: HOUR });
    const after = Date.now();
    assert.equal(ticket.kind, "jwt");
    const v = jwtValidator({ keys: [issuer.publicKey], issuer: "mosaik.test.jwt.issuer" });
    const verdict = await v.validate(ticket, ctx());
    assert.equal(verdict.ok, true);
    assert.equal(verdict.ok && verdict.expiresAt, ticket.expiresAt);
    // `exp` is whole seconds: the expiry is the issue time plus an hour, floored to a second.
    assert.ok(ticket.expiresAt! >= Math.floor((before + HOUR) / 1000) * 1000);
    assert.ok(ticket.expiresAt! <= after + HOUR);
    const gate = requireTicket(v, { networkId: net });
    assert.equal(await gate({ peerId: peer, tickets: [ticket] }), true);
  });

  Deno.test(`jwt ${alg}: expired, not yet valid, wrong network, wrong subject, wrong key`, async () => {
    const issuer = JwtIssuer.generate(alg);
    const opts = { keys: [issuer.publicKey] };
    const now = Date.now();
    const expired = issuer.issue({ peerId: peer, networkId: net, expiresAt: now - HOUR });
    await rejects(() => verifyJwt(token(expired), opts, ctx()), "expired");
    const early = issuer.issue({
      peerId: peer,
      networkId: net,
      expiresIn: HOUR,
      notBefore: now + 60_000,
    });
    await rejects(() => verifyJwt(token(early), opts, ctx()), "not-yet-valid");
    assert.equal((await verifyJwt(token(early), opts, ctx(new Date(now + 120_000)))).sub, peer);
    const elsewhere = issuer.issue({
      peerId: peer,
      networkId: networkId("another"),
      expiresIn: HOUR,
    });
    await rejects(() => verifyJwt(token(elsewhere), opts, ctx()), "network");
    // A ticket copied from another peer's entry is useless: sub binds the holder.
    const stolen = issuer.issue({ peerId: other, networkId: net, expiresIn: HOUR });
    await rejects(() => verifyJwt(token(stolen), opts, ctx()), "subject");
    const good = issuer.issue({ peerId: peer, networkId: net, expiresIn: HOUR });
    const stranger = JwtIssuer.generate(alg);
    await rejects(() => verifyJwt(token(good), { keys: [stranger.publicKey] }, ctx()), "signature");
    const otherAlg = JwtIssuer.generate(alg === "EdDSA" ? "ES256" : "EdDSA");
    await rejects(() => verifyJwt(token(good), { keys: [otherAlg.publicKey] }, ctx()), "algorithm");
  });
}

Deno.test("jwt: exp is required and exactly at exp the ticket is void", async () => {
  const issuer = JwtIssuer.generate("EdDSA");
  const opts = { keys: [issuer.publicKey] };
  await rejects(() => verifyJwt(issuer.sign({ sub: peer, net }), opts, ctx()), "expired");
  const exp = Math.floor(Date.now() / 1000) + 10;
  const t = issuer.sign({ sub: peer, net, exp });
  assert.ok(await verifyJwt(t, opts, ctx(new Date(exp * 1000 - 1))));
  await rejects(() => verifyJwt(t, opts, ctx(new Date(exp * 1000))), "expired");
  // Clock skew tolerates a little lateness, and the verdict's expiry moves with it.
  assert.ok(await verifyJwt(t, { ...opts, clockSkew: 5 }, ctx(new Date(exp * 1000 + 4000))));
});

Deno.test("jwt: issuer, audience and lifetime policies", async () => {
  const issuer = JwtIssuer.generate("ES256", { issuer: "es256-issuer" });
  const keys = [issuer.publicKey];
  const t = token(issuer.issue({ peerId: peer, networkId: net, expiresIn: HOUR, audience: net }));
  assert.ok(await verifyJwt(t, { keys, issuer: ["x", "es256-issuer"], audience: net }, ctx()));
  await rejects(() => verifyJwt(t, { keys, issuer: "someone-else" }, ctx()), "issuer");
  await rejects(() => verifyJwt(t, { keys, audience: "other" }, ctx()), "audience");
  await rejects(() => verifyJwt(t, { keys, maxLifetime: 60 }, ctx()), "lifetime");
  const anon = JwtIssuer.generate("ES256");
  const noIss = token(anon.issue({ peerId: peer, networkId: net, expiresIn: HOUR }));
  await rejects(() => verifyJwt(noIss, { keys: [anon.publicKey], issuer: "x" }, ctx()), "issuer");
  await rejects(
    () => verifyJwt(noIss, { keys: [anon.publicKey], audience: "x" }, ctx()),
    "audience",
  );
  const multi = token(anon.issue({
    peerId: peer,
    networkId: net,
    expiresIn: HOUR,
    audience: ["a", "b"],
  }));
  assert.ok(await verifyJwt(multi, { keys: [anon.publicKey], audience: "b" }, ctx()));
});

Deno.test("jwt: key rotation and key ids", async () => {
  const old = JwtIssuer.generate("EdDSA", { kid: "old" });
  const current = JwtIssuer.generate("EdDSA", { kid: "new" });
  const keys = [old.publicKey, current.publicKey];
  for (const issuer of [old, current]) {
    assert.ok(
      await verifyJwt(
        token(issuer.issue({ peerId: peer, networkId: net, expiresIn: HOUR })),
        { keys },
        ctx(),
      ),
    );
  }
  const unknown = JwtIssuer.generate("EdDSA", { kid: "unknown" });
  await rejects(
    () =>
      verifyJwt(
        token(unknown.issue({ peerId: peer, networkId: net, expiresIn: HOUR })),
        { keys },
        ctx(),
      ),
    "key",
  );
});

Deno.test("jwt: a fixed P-256 scalar gives a fixed compressed key; validators take hex keys", async () => {
  const scalar = fromHex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
  const issuer = JwtIssuer.fromSecret("ES256", scalar, { issuer: "es256-hex-issuer" });
  // RFC 6979 A.2.5 test key: Ux = 60FED4BA…, Uy = 7903FE10… (odd, so prefix 03).
  assert.equal(
    toHex(issuer.publicKey.key),
    "0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6",
  );
  const v = jwtValidator({
    keys: [{
      alg: "ES256",
      key: fromHex("0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"),
    }],
    issuer: "es256-hex-issuer",
  });
  const t = issuer.issue({ peerId: peer, networkId: net, expiresIn: HOUR });
  assert.equal((await v.validate(t, ctx())).ok, true);
  // The uncompressed form of the same key works too.
  const full = p256.Point.fromBytes(issuer.publicKey.key).toBytes(false);
  assert.ok(await verifyJwt(token(t), { keys: [{ alg: "ES256", key: full }] }, ctx()));
});

Deno.test("jwt: interop with tokens signed by WebCrypto (ES256 and Ed25519)", async () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = b64(JSON.stringify({ sub: peer, net, exp: now + 60, iss: "webcrypto" }));
  for (
    const [alg, params, sign] of [
      ["ES256", { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
      ["EdDSA", { name: "Ed25519" }, { name: "Ed25519" }],
    ] as const
  ) {
    const pair = (await crypto.subtle.generateKey(params as EcKeyGenParams, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    let raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    if (alg === "ES256") raw = p256.Point.fromBytes(raw).toBytes(true);
    const input = `${b64(JSON.stringify({ alg, typ: "JWT" }))}.${claims}`;
    for (let i = 0; i < 8; i++) { // several signatures, so high-S ES256 ones occur too
      const sig = new Uint8Array(
        await crypto.subtle.sign(sign, pair.privateKey, enc.encode(input)),
      );
      const c = await verifyJwt(`${input}.${b64(sig)}`, { keys: [{ alg, key: raw }] }, ctx());
      assert.equal(c.iss, "webcrypto");
    }
  }
});

Deno.test("jwt: algorithm confusion is refused (none, HS256 keyed with the public key)", async () => {
  const issuer = JwtIssuer.generate("ES256");
  const keys = [issuer.publicKey];
  const exp = Math.floor(Date.now() / 1000) + 60;
  const claims = b64(JSON.stringify({ sub: peer, net, exp }));
  const none = `${b64('{"alg":"none","typ":"JWT"}')}.${claims}.`;
  await rejects(() => verifyJwt(none, { keys }, ctx()), "algorithm");
  const input = `${b64('{"alg":"HS256","typ":"JWT"}')}.${claims}`;
  const mac = hmac(sha256, issuer.publicKey.key, enc.encode(input));
  await rejects(() => verifyJwt(`${input}.${b64(mac)}`, { keys }, ctx()), "algorithm");
  const edInput = `${b64('{"alg":"EdDSA"}')}.${claims}`;
  const edMac = hmac(sha256, issuer.publicKey.key, enc.encode(edInput));
  await rejects(
    () => verifyJwt(`${edInput}.${b64(new Uint8Array([...edMac, ...edMac]))}`, { keys }, ctx()),
    "algorithm",
  );
  const crit = `${b64('{"alg":"ES256","crit":["b64"],"b64":false}')}.${claims}.${
    b64(new Uint8Array(64))
  }`;
  await rejects(() => verifyJwt(crit, { keys }, ctx()), "algorithm");
});

Deno.test("jwt: malformed tokens give JwtDecodeError", () => {
  const good = JwtIssuer.generate("EdDSA").sign({ sub: peer, net, exp: 2e9 });
  const [h, c, s] = good.split(".");
  const cases = [
    "",
    "a.b",
    "a.b.c.d",
    `${h}.${c}`,
    `${h}=.${c}.${s}`, // padding
    `${h}.${c}.${s}A`, // length 4k+1... or stray bits
    `${h}.${c}.${s.slice(0, -1)}B`, // non-canonical final character
    `${h}.${c}.${s.slice(0, -4)}`, // short signature
    `${h}.${c}+.${s}`, // standard alphabet
    `${b64("[1]")}.${c}.${s}`,
    `${b64("not json")}.${c}.${s}`,
    `${h}.${b64("null")}.${s}`,
    `${b64('{"alg":5}')}.${c}.${s}`,
    `${b64('{"alg":"EdDSA","typ":"JOSE+JSON"}')}.${c}.${s}`,
    `${b64('{"alg":"EdDSA","kid":7}')}.${c}.${s}`,
    `${h}.${b64('{"exp":"tomorrow"}')}.${s}`,
    `${h}.${b64('{"sub":1}')}.${s}`,
    `${h}.${b64('{"aud":[1]}')}.${s}`,
    `${h}.${b64(new Uint8Array([0x7b, 0xff, 0x7d]))}.${s}`, // bad UTF-8
    `${h}.${b64(JSON.stringify({ pad: "x".repeat(20_000) }))}.${s}`, // too long
  ];
  for (const t of cases) {
    assert.throws(() => decodeJwt(t), JwtDecodeError, JSON.stringify(t.slice(0, 80)));
  }
});

Deno.test("jwt: the validator never throws; non-UTF-8 ticket data is a rejection", async () => {
  const issuer = JwtIssuer.generate("EdDSA");
  const v = jwtValidator({ keys: [issuer.publicKey] });
  const verdict = await v.validate({ kind: "jwt", data: new Uint8Array([0xff, 0xfe]) }, ctx());
  assert.match(reason(verdict), /UTF-8/);
});

Deno.test("jwt: configuration errors and validator ids", () => {
  assert.throws(() => jwtValidator({ keys: [] }), JwtConfigError);
  const identity = new Uint8Array(32);
  identity[0] = 1; // the neutral point: (R = identity, S = 0) would "verify" any message
  assert.throws(() => jwtValidator({ keys: [{ alg: "EdDSA", key: identity }] }), JwtConfigError);
  assert.throws(
    () => jwtValidator({ keys: [{ alg: "EdDSA", key: new Uint8Array(31) }] }),
    JwtConfigError,
  );
  assert.throws(
    () => jwtValidator({ keys: [{ alg: "ES256", key: new Uint8Array(33) }] }),
    JwtConfigError,
  );
  assert.throws(
    () => jwtValidator({ keys: [{ alg: "HS256" as "EdDSA", key: new Uint8Array(32) }] }),
    JwtConfigError,
  );
  assert.throws(() => JwtIssuer.fromSecret("ES256", new Uint8Array(32)), JwtConfigError); // zero scalar
  assert.throws(() => JwtIssuer.fromSecret("EdDSA", new Uint8Array(16)), JwtConfigError);
  const issuer = JwtIssuer.generate("EdDSA");
  assert.throws(() => issuer.issue({ peerId: peer, networkId: net }), JwtConfigError);
  const a = jwtValidator({ keys: [issuer.publicKey], issuer: ["b", "a"] });
  const b = jwtValidator({ keys: [issuer.publicKey], issuer: ["a", "b"] });
  const c = jwtValidator({ keys: [issuer.publicKey], issuer: "a" });
  const d = jwtValidator({ keys: [issuer.publicKey], issuer: ["a", "b"], kind: "jwt/alpha" });
  assert.equal(a.id, b.id);
  assert.notEqual(a.id, c.id);
  assert.notEqual(a.id, d.id);
});

Deno.test("jwt: two validators of distinct kinds are both required (alpha AND beta)", async () => {
  const alpha = JwtIssuer.generate("EdDSA", { issuer: "alpha", kind: "jwt/alpha" });
  const beta = JwtIssuer.generate("ES256", { issuer: "beta", kind: "jwt/beta" });
  const gate = requireTicket([
    jwtValidator({ keys: [alpha.publicKey], issuer: "alpha", kind: "jwt/alpha" }),
    jwtValidator({ keys: [beta.publicKey], issuer: "beta", kind: "jwt/beta" }),
  ], { networkId: net });
  const ta = alpha.issue({ peerId: peer, networkId: net, expiresIn: HOUR });
  const tb = beta.issue({ peerId: peer, networkId: net, expiresIn: 2 * HOUR });
  assert.equal(await gate({ peerId: peer, tickets: [ta, tb] }), true);
  assert.equal(await gate({ peerId: peer, tickets: [ta] }), false);
  assert.equal(await gate({ peerId: peer, tickets: [tb] }), false);
  const both = await gate.check({ peerId: peer, tickets: [tb, ta] });
  assert.equal(both.ok && both.expiresAt, ta.expiresAt); // the earlier one disconnects
});

Deno.test("jwt fuzz: random and mutated tokens only raise typed errors", async () => {
  const issuer = JwtIssuer.generate("ES256");
  const opts = { keys: [issuer.publicKey, JwtIssuer.generate("EdDSA").publicKey] };
  const good = issuer.issue({ peerId: peer, networkId: net, expiresIn: HOUR });
  const goodText = token(good);
  const v = jwtValidator(opts);
  const typed = (e: unknown) => e instanceof JwtDecodeError || e instanceof JwtRejectedError;
  const part = fc.oneof(
    fc.string({ unit: fc.constantFrom(..."AZaz09-_+/=. ") }),
    fc.json().map((j) => b64(j)),
    fc.uint8Array({ maxLength: 80 }).map((u) => b64(u)),
    fc.constantFrom(...goodText.split(".")),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string(),
        fc.tuple(part, part, part).map((p) => p.join(".")),
        fc.tuple(fc.nat(goodText.length - 1), fc.string({ minLength: 1, maxLength: 1 })).map((
          [i, ch],
        ) => goodText.slice(0, i) + ch + goodText.slice(i + 1)),
      ),
      async (text) => {
        try {
          await verifyJwt(text, opts, ctx());
        } catch (e) {
          if (!typed(e)) throw e;
        }
        const verdict = await v.validate({ kind: "jwt", data: enc.encode(text) }, ctx());
        if (verdict.ok) assert.equal(text, goodText);
      },
    ),
    { numRuns: 4000 },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      const verdict = await v.validate({ kind: "jwt", data: bytes }, ctx());
      assert.equal(verdict.ok, false);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("jwt: a malleated EdDSA signature (S + L) is refused", async () => {
  const issuer = JwtIssuer.generate("EdDSA");
  const good = token(issuer.issue({ peerId: peer, networkId: net, expiresIn: HOUR }));
  const [h, c, s] = good.split(".");
  const sig = Uint8Array.fromBase64(s, { alphabet: "base64url" });
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  let S = 0n;
  for (let i = 31; i >= 0; i--) S = (S << 8n) | BigInt(sig[32 + i]);
  let x = S + L;
  for (let i = 0; i < 32; i++, x >>= 8n) sig[32 + i] = Number(x & 0xffn);
  assert.equal(x, 0n, "S + L still fits 32 bytes");
  await rejects(
    () => verifyJwt(`${h}.${c}.${b64(sig)}`, { keys: [issuer.publicKey] }, ctx()),
    "signature",
  );
});
