// A bootstrap source whose module loads when discovery starts it, so a node
// with the source turned off (or not yet started) does not carry its code.
import type { BootstrapContext, BootstrapSource, SourceStatus } from "@mosaik/discovery";

/** The source `load` makes, loaded and started by discovery's first `start`. */
export function lazySource(name: string, load: () => Promise<BootstrapSource>): BootstrapSource {
  let source: BootstrapSource | undefined;
  let closed = false;
  return {
    name,
    async start(ctx: BootstrapContext) {
      const loaded = await load();
      if (closed) return;
      source = loaded;
      await loaded.start(ctx);
    },
    async close() {
      closed = true;
      await source?.close();
    },
    status(): SourceStatus {
      if (!source) return { state: "starting" };
      return source.status?.() ?? { state: "running" };
    },
  };
}
