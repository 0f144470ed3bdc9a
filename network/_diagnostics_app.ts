// The diagnostics HTTP routes, loaded by serveDiagnostics on the first request.
import { Hono } from "hono";
import { graphOf, type NodeReport, renderMetrics } from "./diagnostics.ts";
import { hostCheck } from "./_host_check.ts";
import { PAGE } from "./_page.ts";

/** The request handler of a diagnostics server bound at `bound()`. */
export function diagnosticsApp(
  snapshot: () => NodeReport,
  bound: () => { hostname: string; port: number },
  allowedHosts?: readonly string[],
): (request: Request) => Response | Promise<Response> {
  const app = new Hono();
  app.use(hostCheck(bound, allowedHosts));
  app.get("/metrics", (c) =>
    c.text(renderMetrics(snapshot()), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  const api: Record<string, [string, (r: NodeReport) => unknown]> = {
    "/api/report": ["everything below in one document", (r) => r],
    "/api/node": [
      "this node: id, address, network",
      ({ id, address, network }) => ({ id, address, network }),
    ],
    "/api/peers": ["the catalog: peers with addresses, RTT, streams, groups", (r) => r.peers],
    "/api/streams": ["local producers and consumers with their subscriptions", (r) => r.streams],
    "/api/groups": ["local group members: role, leader, term, indexes", (r) => r.groups],
    "/api/graph": ["the swarm graph the page draws", graphOf],
  };
  app.get("/api", (c) =>
    c.json({
      endpoints: [
        ...Object.entries(api).map(([path, [about]]) => ({ path, about })),
        { path: "/metrics", about: "Prometheus text exposition" },
        { path: "/", about: "the swarm page" },
      ],
    }));
  for (const [path, [, view]] of Object.entries(api)) {
    app.get(path, (c) => c.json(view(snapshot())));
  }
  app.get("/", (c) => c.html(PAGE));
  return app.fetch;
}
