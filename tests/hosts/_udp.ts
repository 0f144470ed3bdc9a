/**
 * Child script of lab_test.ts. `echo <port>`: answers every datagram with
 * the sender's address as it sees it. `probe <host:port>...`: sends one
 * datagram from a single socket to each target and prints what each saw.
 */
const [mode, ...args] = Deno.args;
if (mode === "echo") {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "0.0.0.0",
    port: Number(args[0]),
  });
  console.log(JSON.stringify({ ready: true }));
  for await (const [, from] of conn) {
    const { hostname, port } = from as Deno.NetAddr;
    await conn.send(new TextEncoder().encode(`${hostname}:${port}`), from);
  }
} else {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  const seen: Record<string, string> = {};
  const reading = (async () => {
    for await (const [data, from] of conn) {
      const { hostname, port } = from as Deno.NetAddr;
      seen[`${hostname}:${port}`] = new TextDecoder().decode(data);
      if (Object.keys(seen).length === args.length) return;
    }
  })();
  for (let i = 0; i < 20 && Object.keys(seen).length < args.length; i++) {
    for (const target of args) {
      const [hostname, port] = target.split(":");
      await conn.send(new Uint8Array([i]), { transport: "udp", hostname, port: Number(port) })
        .catch(() => {}); // no route: nothing comes back
    }
    await Promise.race([reading, new Promise((r) => setTimeout(r, 100))]);
  }
  console.log(JSON.stringify({ seen }));
  conn.close();
}
