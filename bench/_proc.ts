/**
 * What processes of this machine spent, read from Linux's `/proc` for the
 * hosts benchmark: CPU seconds, and UDP datagrams their sockets dropped
 * because the receive buffer was full (the kernel's default, about 208 KiB,
 * which Deno cannot raise). Elsewhere both read as `undefined`.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** CPU seconds (user + system, every thread) `pid` has used so far. */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Datagrams dropped so far by each UDP socket open in `pids`, by inode. */
function udpDrops(pids: number[]): Map<string, number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const socket = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`).match(/^socket:\[(\d+)\]$/);
        if (socket) inodes.add(socket[1]);
      } catch { /* closed meanwhile */ }
    }
  }
  const drops = new Map<string, number>();
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const row of Deno.readTextFileSync(table).split("\n").slice(1)) {
      const f = row.trim().split(/\s+/); // … inode (9), ref, pointer, drops (12)
      if (f.length > 12 && inodes.has(f[9])) drops.set(f[9], Number(f[12]));
    }
  }
  return drops;
}

/** What `pids` spent between `meter` and the call of the function it returns. */
export interface Spent {
  /** CPU seconds of all of them together. */
  cpu: number;
  /** UDP datagrams dropped at full receive buffers (by the sockets still open at the end). */
  drops: number;
}

/** Starts measuring `pids`; the returned function ends it (`undefined` without `/proc`). */
export function meter(pids: number[]): () => Spent | undefined {
  const read = () => {
    try {
      return { cpu: pids.reduce((s, pid) => s + cpuSeconds(pid), 0), drops: udpDrops(pids) };
    } catch {
      return undefined;
    }
  };
  const start = read();
  return () => {
    const end = read();
    if (!start || !end) return undefined;
    let drops = 0;
    for (const [inode, n] of end.drops) drops += n - (start.drops.get(inode) ?? 0);
    return { cpu: end.cpu - start.cpu, drops };
  };
}
