/**
 * Child script of delay_switch_suite.ts. `echo <port>`: echoes every UDP
 * datagram. `measure <host:port> <count>`: sends `count` datagrams one after
 * the other and prints `{"rtts":[ms...]}` (lost ones are left out).
 */
const [mode, target, count] = Deno.args;
const conn = Deno.listenDatagram({
  transport: "udp",
  hostname: "0.0.0.0",
  port: mode === "echo" ? Number(target) : 0,
});
if (mode === "echo") {
  console.log(JSON.stringify({ ready: true }));
  for await (const [data, from] of conn) await conn.send(data, from);
} else {
  const [hostname, port] = target.split(":");
  const to = { transport: "udp" as const, hostname, port: Number(port) };
  const rtts: number[] = [];
  const replies = conn[Symbol.asyncIterator]();
  for (let i = 0; i < Number(count); i++) {
    const t0 = performance.now();
    await conn.send(new Uint8Array([i]), to);
    const got = await Promise.race([
      replies.next().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 1000)),
    ]);
    if (got) rtts.push(performance.now() - t0);
  }
  console.log(JSON.stringify({ rtts }));
  conn.close();
}
