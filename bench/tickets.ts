/**
 * Ticket benchmarks: validations per second of JWT tickets (EdDSA, ES256) and
 * TDX tickets, each next to the bare cryptographic work it cannot avoid,
 * measured in the same run (the ratio is what decoding, claim checks and the
 * REPORTDATA binding add).
 *
 * Run alone: `deno run -A bench/tickets.ts`
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { networkId, SecretKey } from "@mosaik/transport";
import {
  decodeJwt,
  decodeTdxTicket,
  issueTdxTicket,
  JwtIssuer,
  jwtValidator,
  tdxValidator,
  type TicketValidator,
  verifyQuote,
} from "@mosaik/tee";
import { TestDcap } from "@mosaik/tee/testing";
import { percentile, report } from "./_report.ts";

/** Operations per second of `fn`, run for about `ms` milliseconds after a warm-up. */
async function rate(fn: () => unknown, ms = 700): Promise<number> {
  for (let i = 0; i < 50; i++) await fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) await fn();
    n += 20;
    now = performance.now();
  }
  return n / ((now - start) / 1000);
}

function ok(v: TicketValidator, ...args: Parameters<TicketValidator["validate"]>) {
  return async () => {
    const verdict = await v.validate(...args);
    if (!verdict.ok) throw new Error(verdict.reason);
  };
}

/** Runs the ticket benchmarks and prints one line per figure. */
export async function run(): Promise<void> {
  const net = networkId("bench-tickets");
  const peerId = SecretKey.generate().peerId;
  const ctx = { peerId, networkId: net, now: new Date() };
  const dec = new TextDecoder();

  for (const alg of ["EdDSA", "ES256"] as const) {
    const issuer = JwtIssuer.generate(alg, { issuer: "bench" });
    const ticket = issuer.issue({ peerId, networkId: net, expiresIn: 3_600_000 });
    const v = jwtValidator({ keys: [issuer.publicKey], issuer: "bench" });
    const jwt = decodeJwt(dec.decode(ticket.data));
    const key = issuer.publicKey.key;
    const bare = alg === "EdDSA"
      ? () => ed25519.verify(jwt.signature, jwt.signingInput, key)
      : () => p256.verify(jwt.signature, jwt.signingInput, key, { lowS: false });
    const ours = await rate(ok(v, ticket, ctx));
    const anchor = await rate(bare);
    report(`JWT ${alg} validations (vs noble verify)`, ours, anchor, "ops/s", {
      ratio: 0.8,
      higherIsBetter: true,
    });
  }

  const pki = TestDcap.create();
  const issueTdx = (expiresIn: number) =>
    issueTdxTicket({
      peerId,
      networkId: net,
      expiresIn,
      quote: (reportData) => Promise.resolve(pki.quote({ reportData })),
    });
  // First sight of a ticket: full verification + binding (distinct tickets),
  // against the first verification of other fresh quotes of the same platform
  // with verifyQuote. Each quote is seen by one side only: a quote the other
  // side verified first would find its keys and QE report in the shared
  // caches. The two alternate in rounds, so a busy machine's drift hits both
  // alike.
  const fresh: Awaited<ReturnType<typeof issueTdx>>[] = [];
  for (let i = 0; i < 802; i++) fresh.push(await issueTdx(3_600_000 + i));
  const tickets = fresh.slice(0, 401);
  const quotes = fresh.slice(401).map((t) => decodeTdxTicket(t.data).quote);
  const verify = (quote: Uint8Array) =>
    verifyQuote(quote, pki.collateral, { now: ctx.now, trustedRoot: pki.rootDer });
  const v = tdxValidator({ collateral: pki.collateral, trustedRoot: pki.rootDer });
  await verify(quotes[0]);
  await ok(v, tickets[0], ctx)();
  const ROUND = 25;
  const anchorMs: number[] = [];
  const firstMs: number[] = [];
  for (let at = 1; at < tickets.length; at += ROUND) {
    const anchorRound = async () => {
      const start = performance.now();
      for (const q of quotes.slice(at, at + ROUND)) await verify(q);
      anchorMs.push(performance.now() - start);
    };
    const ticketRound = async () => {
      const start = performance.now();
      for (const t of tickets.slice(at, at + ROUND)) await ok(v, t, ctx)();
      firstMs.push(performance.now() - start);
    };
    // Each goes first in every other round: whatever one round leaves
    // behind (garbage, a cooler cache) falls on both alike.
    if ((at - 1) % (2 * ROUND) === 0) {
      await anchorRound();
      await ticketRound();
    } else {
      await ticketRound();
      await anchorRound();
    }
  }
  // the median round of each: a collection pausing one round does not decide the ratio
  const anchor = ROUND / (percentile(anchorMs, 50) / 1000);
  const first = ROUND / (percentile(firstMs, 50) / 1000);
  report("TDX ticket, first validation (vs verifyQuote of a fresh quote)", first, anchor, "ops/s", {
    ratio: 1,
    higherIsBetter: true,
  });
  // Re-validation of a known ticket (what bonded groups and streams do).
  const again = await rate(ok(v, tickets[0], ctx));
  report("TDX ticket, re-validation (vs verifyQuote)", again, anchor, "ops/s", {
    ratio: 1,
    higherIsBetter: true,
  });
}

if (import.meta.main) await run();
