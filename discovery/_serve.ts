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
import { Turns } from "@mosaik/transport";
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

/**
 * Syncs served at once; more wait their turn, in order, with the request's
 * timer running. A node everyone joins through serves each joiner's first
 * sync: 199 joiners of one process served all at once sent so many replies
 * that their acknowledgements overflowed the node's UDP receive buffer (about
 * 900 datagrams dropped in the first 3 s, and each lost packet waits out a
 * probe timeout). With 32 turns: 200 nodes of one process converged in a
 * median of about 15.8 s against 17.3 s (six and seven runs), 50 nodes no
 * slower (medians 0.70 against 0.76 s, eight alternating pairs).
 */
const SYNCS_AT_ONCE = 32;
/** Syncs waiting for a turn at most; any beyond are turned away (the requester tries later). */
const SYNCS_WAITING = 128;

/** Registers the handlers of gossip, sync and ping on `endpoint`. */
export function serveProtocols(endpoint: Endpoint, d: Served): void {
  const openerFirst = { openerSpeaksFirst: true };
  const banned = async (ch: Channel): Promise<boolean> => {
    if (!(await d.offences.refuse(ch))) return false;
    bump(d.stats.dropped, "from-banned-peer");
    return true;
  };
  endpoint.handle(GOSSIP_PROTOCOL, (ch) => d.gossip.serve(ch), openerFirst);
  const turns = new Turns(SYNCS_AT_ONCE, SYNCS_WAITING);
  endpoint.handle(SYNC_PROTOCOL, async (ch) => {
    if (await banned(ch)) return;
    // the request's timer runs while it waits: a stale waiter's turn passes on at once
    await d.requests.serve(ch, async (timedOut) => {
      const turn = turns.take();
      if (!turn) return bump(d.stats.dropped, "sync-busy");
      const release = await turn;
      try {
        if (!timedOut() && await d.sync.serve(ch, timedOut)) d.catalog.touch(ch.peerId);
      } finally {
        release();
      }
    });
  }, openerFirst);
  endpoint.handle(PING_PROTOCOL, async (ch) => {
    if (await banned(ch)) return;
    await d.requests.serve(ch, () => servePing(ch, d.stats, d.coordinate()));
  }, openerFirst);
}
