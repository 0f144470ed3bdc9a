/**
 * Child of delay_switch.ts, run in the switch's namespace with
 * `--allow-ffi`: opens one TAP device per name in `Deno.args` (libc `open`
 * + `ioctl(TUNSETIFF)` through FFI), prints `{"ready":true}`, then forwards
 * every Ethernet frame between the TAPs as a learning switch, each copy
 * after the delay of its path (with jitter and loss). Reads commands as JSON
 * lines on stdin and answers `{"id":...}`:
 * - `{op:"port", port, delay, jitter, loss}`: one-way delay (ms) of a host's
 *   link, ± uniform jitter (ms), drop probability (0..1);
 * - `{op:"pair", a, b, delay}`: one-way delay between two ports, replacing
 *   the sum of their link delays (`delay: null` removes it).
 * Exits when stdin closes.
 */
const libc = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
});
const O_RDWR = 2;
const TUNSETIFF = 0x400454can;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const MAX_FRAME = 65_536;

interface Port {
  fd: number;
  delay: number;
  jitter: number;
  loss: number;
}

function openTap(name: string): number {
  const fd = libc.symbols.open(new TextEncoder().encode("/dev/net/tun\0"), O_RDWR);
  if (fd < 0) throw new Error("cannot open /dev/net/tun");
  const ifreq = new Uint8Array(40);
  ifreq.set(new TextEncoder().encode(name));
  new DataView(ifreq.buffer).setUint16(16, IFF_TAP | IFF_NO_PI, true);
  if (libc.symbols.ioctl(fd, TUNSETIFF, ifreq) < 0) throw new Error(`TUNSETIFF ${name} failed`);
  return fd;
}

const ports: Port[] = Deno.args.map((name) => ({
  fd: openTap(name),
  delay: 0,
  jitter: 0,
  loss: 0,
}));
const pairs = new Map<string, number>();
const macs = new Map<string, number>();
/** Departure time of the last frame per (in, out): frames of one path keep their order. */
const last = new Map<string, number>();

function delayOf(from: number, to: number): number {
  const a = ports[from], b = ports[to];
  const base = pairs.get(`${Math.min(from, to)}:${Math.max(from, to)}`) ?? a.delay + b.delay;
  const jitter = (a.jitter + b.jitter) * (2 * Math.random() - 1);
  return Math.max(0, base + jitter);
}

function send(from: number, to: number, frame: Uint8Array): void {
  const a = ports[from], b = ports[to];
  if (Math.random() < 1 - (1 - a.loss) * (1 - b.loss)) return;
  const now = performance.now();
  const key = `${from}>${to}`;
  const at = Math.max(now + delayOf(from, to), last.get(key) ?? 0);
  last.set(key, at);
  const out = () => libc.symbols.write(b.fd, frame, BigInt(frame.length));
  if (at - now < 0.5) out();
  else setTimeout(out, at - now);
}

const mac = (f: Uint8Array, at: number) =>
  Array.from(f.subarray(at, at + 6), (x) => x.toString(16)).join(":");

async function pump(index: number): Promise<void> {
  for (;;) {
    const buf = new Uint8Array(MAX_FRAME);
    const n = Number(await libc.symbols.read(ports[index].fd, buf, BigInt(MAX_FRAME)));
    if (n < 14) continue;
    const frame = buf.subarray(0, n);
    macs.set(mac(frame, 6), index);
    const dest = frame[0] & 1 ? undefined : macs.get(mac(frame, 0));
    if (dest !== undefined) {
      if (dest !== index) send(index, dest, frame);
    } else {
      for (let to = 0; to < ports.length; to++) if (to !== index) send(index, to, frame);
    }
  }
}

for (let i = 0; i < ports.length; i++) pump(i);
console.log(JSON.stringify({ ready: true }));

let input = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  input += chunk;
  let nl;
  while ((nl = input.indexOf("\n")) >= 0) {
    const cmd = JSON.parse(input.slice(0, nl));
    input = input.slice(nl + 1);
    if (cmd.op === "port") {
      Object.assign(ports[cmd.port], { delay: cmd.delay, jitter: cmd.jitter, loss: cmd.loss });
    } else if (cmd.op === "pair") {
      const key = `${Math.min(cmd.a, cmd.b)}:${Math.max(cmd.a, cmd.b)}`;
      if (cmd.delay === null) pairs.delete(key);
      else pairs.set(key, cmd.delay);
    }
    console.log(JSON.stringify({ id: cmd.id }));
  }
}
Deno.exit(0);
