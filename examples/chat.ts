/**
 * Group chat: every member produces and consumes one stream of messages.
 * Lines typed on stdin go to everyone else; members joining and leaving are
 * told from the discovery catalog. Start it in several terminals (or on
 * several machines of one LAN) with a name each, type, and Ctrl-C to leave.
 *
 * Run: `deno task chat --name alice`
 *
 * `--local --bootstrap <peerId>@host:port` keeps it on loopback (tests).
 *
 * @module
 */
import { Network } from "@mosaik/network";
import { commandLine } from "./_args.ts";
import { abortable } from "@mosaik/transport";
import { stream } from "@mosaik/streams";

const { values } = commandLine({
  options: {
    name: { type: "string" },
    local: { type: "boolean", default: false },
    bootstrap: { type: "string", multiple: true, default: [] },
  },
}, "deno task chat --name <name> [--local] [--bootstrap <peerId>@host:port]...");
const local = values.local ? { listen: "127.0.0.1:0", mdns: false, dht: false } : {};

const stop = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => stop.abort());
}

interface Message {
  from: string;
  name: string;
  text: string;
}
const Chat = stream<Message>("chat/messages", { schema: "chat-message/v1" });

const network = await Network.create("mosaik-chat", { ...local, bootstrap: values.bootstrap });
type PeerId = typeof network.local.id;
const me = network.local.id;
const name = values.name ?? me.slice(0, 8);
const outbox = network.streams.produce(Chat);
const inbox = network.streams.consume(Chat);
console.log(`chat: I am ${network.local.address} (${name})`);

// A member is a peer whose entry produces the chat stream. It "joined" once it
// subscribed to our messages (it hears us); it "left" when its entry departs
// (Ctrl-C announces that) or expires (a crash).
const names = new Map<PeerId, string>();
const members = new Set<PeerId>();
const label = (peer: PeerId) => names.get(peer) ?? peer.slice(0, 8);
async function welcome(peer: PeerId) {
  members.add(peer);
  try {
    await outbox.when.subscribed({ where: (p) => p.peerId === peer, signal: stop.signal });
  } catch {
    return; // we are leaving
  }
  if (members.has(peer)) console.log(`chat: ${label(peer)} joined`);
}
const unsubscribe = network.discovery.catalog.subscribe(({ type, entry }) => {
  const producesChat = entry.streams.includes(Chat.id);
  if ((type === "discovered" || type === "updated") && producesChat) {
    if (!members.has(entry.peerId)) welcome(entry.peerId);
  } else if (type !== "discovered" && type !== "updated" && members.delete(entry.peerId)) {
    console.log(`chat: ${label(entry.peerId)} left`);
    names.delete(entry.peerId);
  }
});
for (const entry of network.discovery.catalog.withStream(Chat.id)) welcome(entry.peerId);

// stdin lines are our messages (a closed stdin just means we only listen).
const stdin = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
const typing = (async () => {
  let buffered = "";
  for (;;) {
    const { value, done } = await stdin.read();
    if (done) return;
    const lines = (buffered + value).split("\n");
    buffered = lines.pop()!;
    for (const text of lines.map((l) => l.trim()).filter(Boolean)) {
      await abortable(outbox.send({ from: me, name, text }), stop.signal);
    }
  }
})();

try {
  for (;;) {
    const message = await inbox.recv({ signal: stop.signal });
    if (message === undefined) break;
    names.set(message.from as PeerId, message.name);
    console.log(`[${message.name}] ${message.text}`);
  }
} catch (error) {
  if (!stop.signal.aborted) throw error;
}
unsubscribe();
await stdin.cancel();
await network.close();
await typing.catch(() => {}); // a send cut short by Ctrl-C
console.log("chat: bye");
