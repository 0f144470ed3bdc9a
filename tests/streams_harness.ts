// Nodes for the streams suites: real QUIC endpoints, with either a static
// catalog (StaticDiscovery) or full Network nodes with gossip discovery.
import { Endpoint, networkId, type PeerId, type Tag, tag, type Ticket } from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { StaticDiscovery, Streams, type StreamsOptions } from "@mosaik/streams";

/** One node of a test cluster. */
export interface TestNode {
  id: PeerId;
  streams: Streams;
  endpoint: Endpoint;
  /** Replaces the node's tags (names). */
  setTags(tags: string[]): void;
  /** Replaces the node's tickets. */
  setTickets(tickets: Ticket[]): void;
  close(): Promise<void>;
}

/** A set of nodes that know each other. */
export interface Cluster {
  nodes: TestNode[];
  /** Adds a node that joins the others. */
  add(options?: { tags?: string[] }): Promise<TestNode>;
  /** Closes every node still open. */
  close(): Promise<void>;
}

const tags = (names: string[] = []): Tag[] => names.map((t) => tag(t));

/** Nodes over real endpoints with linked static catalogs. */
export async function staticCluster(
  n: number,
  options: { tags?: string[][]; streams?: StreamsOptions } = {},
): Promise<Cluster> {
  const net = networkId(crypto.randomUUID());
  const nodes: TestNode[] = [];
  const discoveries: StaticDiscovery[] = [];
  const open = new Set<TestNode>();
  const add = async (o: { tags?: string[] } = {}): Promise<TestNode> => {
    const endpoint = await Endpoint.create({ networkId: net });
    const discovery = new StaticDiscovery({
      peerId: endpoint.peerId,
      addresses: [endpoint.hostPort],
      tags: tags(o.tags),
    });
    const streams = new Streams(
      endpoint,
      discovery,
      options.streams ?? { backoff: { initial: 100 } },
    );
    const node: TestNode = {
      id: endpoint.peerId,
      streams,
      endpoint,
      setTags: (t) => discovery.local.update({ tags: tags(t) }),
      setTickets: (t) => discovery.local.update({ tickets: t }),
      close: async () => {
        if (!open.delete(node)) return;
        await streams.close();
        discovery.depart();
        await endpoint.close();
      },
    };
    StaticDiscovery.link(discovery, ...discoveries);
    discoveries.push(discovery);
    nodes.push(node);
    open.add(node);
    return node;
  };
  for (let i = 0; i < n; i++) await add({ tags: options.tags?.[i] });
  return {
    nodes,
    add,
    close: async () => {
      await Promise.all([...open].map((x) => x.close()));
    },
  };
}

/** Full `Network` nodes (gossip discovery) on loopback, bootstrapped through the first open node. */
export async function networkCluster(
  n: number,
  options: { tags?: string[][] } = {},
): Promise<Cluster> {
  const name = crypto.randomUUID();
  const nodes: TestNode[] = [];
  const open = new Map<TestNode, string>();
  const knows = (x: TestNode, peer: PeerId) =>
    eventually(() => x.streams.discovery.catalog.get(peer) !== undefined, {
      timeout: 10_000,
      message: `${x.id} learns ${peer}`,
    });
  const add = async (o: { tags?: string[] } = {}): Promise<TestNode> => {
    const seed = [...open.values()][0];
    const network = await Network.create(name, {
      listen: "127.0.0.1:0",
      mdns: false,
      dht: false,
      bootstrap: seed ? [seed] : [],
      tags: o.tags ?? [],
    });
    const local = network.discovery.local;
    const node: TestNode = {
      id: network.local.id,
      streams: network.streams,
      endpoint: network.endpoint,
      setTags: (names) => {
        const wanted = tags(names);
        const drop = local.entry.tags.filter((t) => !wanted.includes(t));
        if (drop.length) local.removeTags(...drop);
        const missing = wanted.filter((t) => !local.entry.tags.includes(t));
        if (missing.length) local.addTags(...missing);
      },
      setTickets: (tickets) => {
        for (const t of local.entry.tickets) {
          if (!tickets.some((x) => x.kind === t.kind)) local.removeTicket(t.kind);
        }
        for (const t of tickets) local.setTicket({ ...t });
      },
      close: async () => {
        if (!open.delete(node)) return;
        await network.close();
      },
    };
    const others = [...open.keys()];
    nodes.push(node);
    open.set(node, network.local.address);
    // like the Rust suite's discover_all: everyone knows everyone before the test goes on
    await Promise.all([
      ...others.map((x) => knows(node, x.id)),
      ...others.map((x) => knows(x, node.id)),
    ]);
    return node;
  };
  for (let i = 0; i < n; i++) await add({ tags: options.tags?.[i] });
  return {
    nodes,
    add,
    close: async () => {
      await Promise.all([...open.keys()].map((x) => x.close()));
    },
  };
}

/**
 * The cluster flavour the acceptance suites run on: real `Network` nodes, or
 * static catalogs with `STREAMS_CLUSTER=static`.
 */
export const cluster: typeof staticCluster = Deno.env.get("STREAMS_CLUSTER") === "static"
  ? staticCluster
  : networkCluster;
