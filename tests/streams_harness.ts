// Nodes for the streams suites: real QUIC endpoints, with either a static
// catalog (StaticDiscovery) or full Network nodes with gossip discovery.
import { Endpoint, networkId, type PeerId, type Tag, tag } from "@mosaik/transport";
import { StaticDiscovery, Streams, type StreamsOptions, type StreamsTicket } from "@mosaik/streams";

/** One node of a test cluster. */
export interface TestNode {
  id: PeerId;
  streams: Streams;
  endpoint: Endpoint;
  /** Replaces the node's tags (names). */
  setTags(tags: string[]): void;
  /** Replaces the node's tickets. */
  setTickets(tickets: StreamsTicket[]): void;
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

/** The cluster flavour the acceptance suites run on. */
export const cluster: typeof staticCluster = staticCluster;
