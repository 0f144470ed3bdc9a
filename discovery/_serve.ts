/**
 * The acceptor side of discovery's three protocols: gossip links, catalog
 * syncs and pings. Each opener speaks first; a banned peer is turned away.
 *
 * @module
 */
import type { Channel, Endpoint } from "@mosaik/transport";
import type { Catalog } from "./catalog.ts";
import { type Gossip, GOSSIP_PROTOCOL } from "./_gossip.ts";
import type { Offences } from "./_offences.ts";
import { PING_PROTOCOL, servePing } from "./_ping.ts";
import type { Requests } from "./_requests.ts";
import { type CatalogSync, SYNC_PROTOCOL } from "./_sync.ts";
import { bump, type DiscoveryStats } from "./stats.ts";
import type { Coordinate } from "./vivaldi.ts";

/** What answering the protocols takes. */
export interface Served {
  gossip: Gossip;
  sync: CatalogSync;
  requests: Requests;
  offences: Offences;
  catalog: Catalog;
  stats: DiscoveryStats;
  coordinate(): Coordinate;
}

/** Registers the handlers of gossip, sync and ping on `endpoint`. */
export function serveProtocols(endpoint: Endpoint, d: Served): void {
  const openerFirst = { openerSpeaksFirst: true };
  const banned = async (ch: Channel): Promise<boolean> => {
    if (!(await d.offences.refuse(ch))) return false;
    bump(d.stats.dropped, "from-banned-peer");
    return true;
  };
  endpoint.handle(GOSSIP_PROTOCOL, (ch) => d.gossip.serve(ch), openerFirst);
  endpoint.handle(SYNC_PROTOCOL, async (ch) => {
    if (await banned(ch)) return;
    await d.requests.serve(ch, async (timedOut) => {
      if (await d.sync.serve(ch, timedOut)) d.catalog.touch(ch.peerId);
    });
  }, openerFirst);
  endpoint.handle(PING_PROTOCOL, async (ch) => {
    if (await banned(ch)) return;
    await d.requests.serve(ch, () => servePing(ch, d.stats, d.coordinate()));
  }, openerFirst);
}
