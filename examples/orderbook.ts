/**
 * An order book: traders stream limit orders, a matching engine replicated by
 * a Raft group matches them, and its leader streams an execution report (the
 * fills) back for every order. The report is the acknowledgement: it is sent
 * only once the order is committed, so an acknowledged order survives the
 * loss of the engine's leader.
 *
 * - `engine`: a member of the matching engine's group. Only the leader
 *   executes the orders it receives; followers replicate and take over.
 * - `trader`: sends `--orders` random orders and resends every order not
 *   acknowledged within `--timeout` ms (after a failover, say), waiting twice
 *   as long before each further resend. The book applies each order id once,
 *   so a resent order is never matched twice: a duplicate gets the report of
 *   the first execution again. (The book keeps every report for that; a
 *   long-running engine would forget them once no trader can resend.)
 *
 * Start three engines and a trader, in four terminals (or on four machines of
 * one LAN); the engines form their group once `--engines` of them met.
 * Ctrl-C stops an engine, which prints the book.
 *
 * Run: `deno task orderbook engine` (three times), then `deno task orderbook trader`
 *
 * `--local --bootstrap <peerId>@host:port` keeps it on loopback (tests).
 *
 * @module
 */
import { Network } from "@mosaik/network";
import { commandLine } from "./_args.ts";
import { abortable, delay } from "@mosaik/transport";
import { stream } from "@mosaik/streams";
import type { StateMachine } from "@mosaik/groups";

const { values, positionals: [role] } = commandLine(
  {
    allowPositionals: true,
    options: {
      engines: { type: "string", default: "3" },
      orders: { type: "string", default: "300" },
      every: { type: "string", default: "10" },
      timeout: { type: "string", default: "1000" },
      local: { type: "boolean", default: false },
      bootstrap: { type: "string", multiple: true, default: [] },
    },
  },
  "deno task orderbook engine|trader [--engines n] [--orders n] [--every ms] [--timeout ms] [--local] [--bootstrap <peerId>@host:port]...",
);
const [engines, count, every, timeout] = [
  values.engines,
  values.orders,
  values.every,
  values.timeout,
]
  .map(Number);
if (
  (role !== "engine" && role !== "trader") ||
  ![engines, count, every, timeout].every((n) => Number.isSafeInteger(n) && n > 0)
) {
  console.error(
    "usage: orderbook engine|trader [--engines 3] [--orders 300] [--every 10] [--timeout 1000] (ms)",
  );
  Deno.exit(2);
}
const local = values.local ? { listen: "127.0.0.1:0", mdns: false, dht: false } : {};

const stop = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => stop.abort());
}

/** A limit order; prices in ticks, quantities in lots. */
interface Order {
  id: string;
  side: "buy" | "sell";
  price: number;
  qty: number;
}
/** A trade between the incoming order (taker) and a resting one (maker). */
interface Fill {
  taker: string;
  maker: string;
  price: number;
  qty: number;
}
/** What became of an order: its fills and the quantity left resting in the book. */
interface Report {
  order: string;
  fills: Fill[];
  resting: number;
}
/** The whole book, as `query("book")` returns it and snapshots carry it. */
interface BookState {
  /** Every order applied, in log order. */
  orders: Order[];
  /** Resting buys, best (highest) price first, then oldest first. */
  bids: Order[];
  /** Resting sells, best (lowest) price first, then oldest first. */
  asks: Order[];
  /** Every fill, in log order. */
  fills: Fill[];
  /** The report of every order, for the duplicates. */
  reports: Record<string, Report>;
}

const isOrder = (o: Order) =>
  typeof o?.id === "string" && o.id.length <= 64 && (o.side === "buy" || o.side === "sell") &&
  [o.price, o.qty].every((n) => Number.isSafeInteger(n) && n > 0);

/** Price-time priority matching; deterministic, as a replicated state machine must be. */
class OrderBook implements StateMachine<Order, Report, "book", BookState, BookState> {
  readonly name = "orderbook/v1";
  #s: BookState = { orders: [], bids: [], asks: [], fills: [], reports: {} };

  apply(order: Order): Report {
    const s = this.#s;
    const seen = Object.hasOwn(s.reports, order.id) ? s.reports[order.id] : undefined;
    if (seen) return seen;
    const [opposite, own] = order.side === "buy" ? [s.asks, s.bids] : [s.bids, s.asks];
    const crosses = (maker: Order) =>
      order.side === "buy" ? maker.price <= order.price : maker.price >= order.price;
    const fills: Fill[] = [];
    let qty = order.qty;
    while (qty > 0 && opposite.length && crosses(opposite[0])) {
      const maker = opposite[0];
      const traded = Math.min(qty, maker.qty);
      fills.push({ taker: order.id, maker: maker.id, price: maker.price, qty: traded });
      qty -= traded;
      maker.qty -= traded;
      if (maker.qty === 0) opposite.shift();
    }
    if (qty > 0) {
      const behind = (o: Order) =>
        order.side === "buy" ? o.price < order.price : o.price > order.price;
      const at = own.findIndex(behind);
      own.splice(at === -1 ? own.length : at, 0, { ...order, qty });
    }
    const report = { order: order.id, fills, resting: qty };
    s.orders.push(order);
    s.fills.push(...fills);
    s.reports[order.id] = report;
    return report;
  }
  query(): BookState {
    return this.snapshot();
  }
  snapshot(): BookState {
    return structuredClone(this.#s);
  }
  restore(state: BookState): void {
    this.#s = state;
  }
}

/** Orders an engine executes at once. */
const MAX_EXECUTING = 64;

const Orders = stream<Order>("orderbook/orders", { schema: "order/v1" });
const Reports = stream<Report>("orderbook/fills", { schema: "report/v1" });

const network = await Network.create("mosaik-orderbook", { ...local, bootstrap: values.bootstrap });
console.log(`${role}: I am ${network.local.address}`);
if (role === "engine") await engine();
else await trader();
await network.close();
console.log(`${role}: bye`);

async function engine() {
  const group = network.groups.join({
    key: "mosaik-orderbook/engine",
    stateMachine: new OrderBook(),
    config: { bootstrapExpect: engines },
  });
  const orders = network.streams.consume(Orders);
  const reports = network.streams.produce(Reports);
  const leadership = (async () => {
    let leader = await group.when.leaderElected({ signal: stop.signal });
    for (;;) {
      if (leader === network.local.id) console.log(`engine: leading in term ${group.term}`);
      leader = await group.when.leaderChanged({ signal: stop.signal });
    }
  })().catch(() => {}); // stopped
  // The leader executes what it receives, several orders at a time (Raft
  // batches them); a failed execute (leadership lost, stopping) is simply not
  // acknowledged: the trader resends it.
  const executing = new Set<Promise<void>>();
  try {
    for (;;) {
      const order = await orders.recv({ signal: stop.signal });
      if (order === undefined) break;
      if (!group.isLeader || !isOrder(order)) continue;
      const done: Promise<void> = group.execute(order, { signal: stop.signal })
        .then(({ result }) => abortable(reports.send(result), stop.signal))
        .catch(() => {})
        .finally(() => executing.delete(done));
      executing.add(done);
      if (executing.size >= MAX_EXECUTING) await Promise.race(executing);
    }
  } catch (error) {
    if (!stop.signal.aborted) throw error;
  }
  await leadership;
  // The book as the group agreed on it: a linearizable read when a quorum
  // answers, else what this engine applied of what it knows committed.
  let book = await group.query("book", { signal: AbortSignal.timeout(5000) }).catch(() =>
    undefined
  );
  if (!book) {
    console.log("engine: no quorum for a linearizable read; the book as applied here:");
    await group.when.applied(group.commitIndex, { signal: AbortSignal.timeout(5000) });
    book = await group.query("book", { consistency: "weak" });
  }
  const { reports: _, ...shown } = book;
  console.log(`engine: book ${JSON.stringify(shown)}`);
  await group.close();
}

async function trader() {
  const prefix = network.local.id.slice(0, 8);
  const orders = network.streams.produce(Orders);
  const reports = network.streams.consume(Reports);
  // Start once every engine hears us (orders sent to nobody would wait for a resend).
  const ready = await orders.when.subscribed({ minimum: engines, signal: stop.signal })
    .then(() => true, () => false);
  if (!ready) return;
  // Unacknowledged orders and when to resend each: after `timeout`, then twice as long each time.
  const pending = new Map<string, { order: Order; due: number; wait: number }>();
  const acknowledged: string[] = [];
  let resent = 0;
  const send = (order: Order, wait = timeout) => {
    pending.set(order.id, { order, due: Date.now() + wait, wait });
    return abortable(orders.send(order), stop.signal); // a send waits for room: not after Ctrl-C
  };
  const receiving = (async () => {
    while (acknowledged.length < count) {
      const report = await reports.recv({ signal: stop.signal });
      if (report === undefined || !pending.delete(report.order)) continue;
      acknowledged.push(report.order);
      if (acknowledged.length % 50 === 0) {
        console.log(`trader: acknowledged ${acknowledged.length}/${count}`);
      }
    }
  })();
  const resending = (async () => {
    while (acknowledged.length < count) {
      await delay(timeout / 4, { signal: stop.signal });
      for (const { order, due, wait } of [...pending.values()]) {
        if (Date.now() >= due) resent++, await send(order, Math.min(2 * wait, 8 * timeout));
      }
    }
  })();
  const sending = (async () => {
    for (let i = 0; i < count; i++) {
      const side = Math.random() < 0.5 ? "buy" : "sell";
      const price = 100 + Math.floor(Math.random() * 11) - 5;
      await send({ id: `${prefix}-${i}`, side, price, qty: 1 + Math.floor(Math.random() * 10) });
      await delay(every, { signal: stop.signal });
    }
  })();
  for (const outcome of await Promise.allSettled([sending, receiving, resending])) {
    if (outcome.status === "rejected" && !stop.signal.aborted) throw outcome.reason;
  }
  console.log(`trader: resent ${resent} orders`);
  console.log(`trader: acknowledged ${JSON.stringify(acknowledged)}`);
}
