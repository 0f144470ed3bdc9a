// Fixtures of the collections suites: real Network nodes on loopback that
// found each other, and a runner for independent scenarios sharing them.
import { Network } from "@mosaik/network";
import { within } from "@mosaik/transport/testing";

/** `n` nodes of a fresh network, each bootstrapped from the first; resolves once all see all. */
export async function startNodes(n: number): Promise<Network[]> {
  const name = crypto.randomUUID();
  const first = await Network.create(name, { listen: "127.0.0.1:0", mdns: false, dht: false });
  const rest = await Promise.all(
    Array.from({ length: n - 1 }, () =>
      Network.create(name, {
        listen: "127.0.0.1:0",
        mdns: false,
        dht: false,
        bootstrap: [first.local.address],
      })),
  );
  const nodes = [first, ...rest];
  await within(
    Promise.all(nodes.map((x) => x.discovery.when.peers({ minimum: n - 1 }))),
    10_000,
    "discovery",
  );
  return nodes;
}

/** Closes every node. */
export async function closeAll(nodes: Network[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.close()));
}

/** A fresh store name. */
export function fresh(): string {
  return crypto.randomUUID();
}

/**
 * Runs independent scenarios (each on its own store) concurrently as steps
 * of `t`; they share the nodes, so the suite pays for node start-up once.
 */
export async function scenarios(
  t: Deno.TestContext,
  cases: Record<string, () => Promise<void>>,
): Promise<void> {
  const results = await Promise.all(
    Object.entries(cases).map(([name, fn]) =>
      t.step({ name, fn, sanitizeOps: false, sanitizeResources: false, sanitizeExit: false })
    ),
  );
  if (results.some((ok) => !ok)) throw new Error("a scenario failed");
}

/** Waits until every handle is online. */
export async function online(...handles: { when: { online(): Promise<void> } }[]): Promise<void> {
  await within(Promise.all(handles.map((h) => h.when.online())), 10_000, "online");
}

/** Waits until every handle applied `version`. */
export async function reach(
  version: number,
  ...handles: { when: { reaches(v: number): Promise<void> } }[]
): Promise<void> {
  await within(Promise.all(handles.map((h) => h.when.reaches(version))), 10_000, "reaches");
}

/** Closes handles. */
export async function closeHandles(...handles: { close(): Promise<void> }[]): Promise<void> {
  await Promise.all(handles.map((h) => h.close()));
}
