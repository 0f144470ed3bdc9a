// Nodes for the streams suites: real QUIC endpoints, with either a static
// catalog (StaticDiscovery) or full Network nodes with gossip discovery
// (started by the shared harness).
import {
  Endpoint,
  type NetworkId,
  type PeerId,
  type Tag,
  tag,
  type Ticket,
} from "@mosaik/transport";
import { eventually } from "@mosaik/transport/testing";
import { Network } from "@mosaik/network";
import { closeAll, freshName, freshNetwork, LOCAL, startNetworks } from "./_harness.ts";
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

/** A streams node over a real endpoint with a static catalog, linked to nobody yet. */
export interface StaticNode {
  endpoint: Endpoint;
  discovery: StaticDiscovery;
  /** Absent for a raw endpoint that speaks the wire protocol by hand. */
  streams: Streams | undefined;
  close(): Promise<void>;
}

/** Options of {@linkcode staticNode}. */
export interface StaticNodeOptions {
  /** Options of the node's `Streams`, or `false` for a raw endpoint without streams. */
  streams?: StreamsOptions | false;
  /** The endpoint's largest frame. */
  maxFrameSize?: number;
  /** Tag names of the node's entry. */
  tags?: string[];
}

/** One node with a static catalog (see {@linkcode StaticNode}). */
export async function staticNode(
  net: NetworkId,
  options: StaticNodeOptions = {},
): Promise<StaticNode> {
  const endpoint = await Endpoint.create({
    networkId: net,
    ...(options.maxFrameSize ? { maxFrameSize: options.maxFrameSize } : {}),
  });
  const discovery = new StaticDiscovery({
    peerId: endpoint.peerId,
    addresses: [endpoint.hostPort],
    tags: tags(options.tags),
  });
  const streams = options.streams === false
    ? undefined
    : new Streams(endpoint, discovery, options.streams ?? { backoff: { initial: 100 } });
  let closed = false;
  return {
    endpoint,
    discovery,
    streams,
    close: async () => {
      if (closed) return;
      closed = true;
      await streams?.close();
      discovery.depart();
      await endpoint.close();
    },
  };
}

/** Nodes over real endpoints with linked static catalogs. */
export async function staticCluster(
  n: number,
  options: { tags?: string[][]; streams?: StreamsOptions } = {},
): Promise<Cluster> {
  const net = freshNetwork();
  const nodes: TestNode[] = [];
  const discoveries: StaticDiscovery[] = [];
  const open = new Set<TestNode>();
  const add = async (o: { tags?: string[] } = {}): Promise<TestNode> => {
    const x = await staticNode(net, { streams: options.streams, tags: o.tags });
    const node: TestNode = {
      id: x.endpoint.peerId,
      streams: x.streams!,
      endpoint: x.endpoint,
      setTags: (t) => x.discovery.local.update({ tags: tags(t) }),
      setTickets: (t) => x.discovery.local.update({ tickets: t }),
      close: async () => {
        if (open.delete(node)) await x.close();
      },
    };
    StaticDiscovery.link(x.discovery, ...discoveries);
    discoveries.push(x.discovery);
    nodes.push(node);
    open.add(node);
    return node;
  };
  for (let i = 0; i < n; i++) await add({ tags: options.tags?.[i] });
  return { nodes, add, close: () => closeAll([...open]) };
}

/** Wraps a `Network` node of a cluster. */
function networkNode(network: Network, open: Map<TestNode, string>): TestNode {
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
      if (open.delete(node)) await network.close();
    },
  };
  open.set(node, network.local.address);
  return node;
}

/**
 * Full `Network` nodes (gossip discovery) on loopback: the shared harness's
 * {@linkcode startNetworks}, plus nodes added later that every node knows
 * before the test goes on.
 */
export async function networkCluster(
  n: number,
  options: { tags?: string[][] } = {},
): Promise<Cluster> {
  const name = freshName();
  const open = new Map<TestNode, string>();
  const nodes = (await startNetworks(n, { name, tags: options.tags }))
    .map((network) => networkNode(network, open));
  const knows = (x: TestNode, peer: PeerId) =>
    eventually(() => x.streams.discovery.catalog.get(peer) !== undefined, {
      timeout: 10_000,
      message: `${x.id} learns ${peer}`,
    });
  const add = async (o: { tags?: string[] } = {}): Promise<TestNode> => {
    const others = [...open.keys()];
    const network = await Network.create(name, {
      ...LOCAL,
      bootstrap: [...open.values()].slice(0, 1),
      tags: o.tags ?? [],
    });
    const node = networkNode(network, open);
    nodes.push(node);
    await Promise.all([
      ...others.map((x) => knows(node, x.id)),
      ...others.map((x) => knows(x, node.id)),
    ]);
    return node;
  };
  return { nodes, add, close: () => closeAll([...open.keys()]) };
}

/**
 * The cluster flavour the acceptance suites run on: real `Network` nodes, or
 * static catalogs with `STREAMS_CLUSTER=static`.
 */
export const cluster: typeof staticCluster = Deno.env.get("STREAMS_CLUSTER") === "static"
  ? staticCluster
  : networkCluster;
