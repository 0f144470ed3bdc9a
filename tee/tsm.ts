/**
 * Quote acquisition inside a TD through the Linux configfs-tsm interface
 * (`/sys/kernel/config/tsm/report`, kernel ABI `configfs-tsm`): create a
 * report entry, write 64 bytes of REPORTDATA to `inblob`, read the quote
 * from `outblob`, and check that `generation` advanced by exactly one (no
 * other writer raced us). Needs only `--allow-read`/`--allow-write` on the
 * report directory.
 *
 * @module
 */
import { toHex } from "@mosaik/transport";
import { TsmError } from "./errors.ts";

/** Default configfs-tsm report directory. */
export const TSM_REPORT_ROOT = "/sys/kernel/config/tsm/report";

/** Options of {@linkcode getTdxQuote}. */
export interface TsmOptions {
  /** Report directory (default {@linkcode TSM_REPORT_ROOT}); tests point it at a temp dir. */
  root?: string;
  /**
   * Entry name. Default: a fresh random name, created and removed around the
   * call. An existing entry with this name is reused and kept.
   */
  entry?: string;
  /** Expected `provider` (default `tdx_guest`). */
  provider?: string;
}

function classify(e: unknown, what: string): never {
  if (e instanceof TsmError) throw e;
  if (e instanceof Deno.errors.NotFound) {
    throw new TsmError("unavailable", `${what}: configfs-tsm is not available`, { cause: e });
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    throw new TsmError("permission", `${what}: permission denied`, { cause: e });
  }
  throw new TsmError("io", `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

async function readText(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (e) {
    classify(e, path);
  }
}

async function generation(path: string): Promise<number> {
  const text = await readText(path);
  if (!/^\d+$/.test(text)) {
    throw new TsmError("io", `${path}: bad generation ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/**
 * Obtains a TDX quote whose REPORTDATA is `reportData` (exactly 64 bytes).
 * Throws {@linkcode TsmError}: `unavailable` (no configfs-tsm), `permission`
 * (OS or Deno permission denied), `provider` (not a TDX guest),
 * `generation` (another writer used the entry concurrently) or `io`.
 *
 * @example
 * ```ts ignore
 * import { getTdxQuote, parseQuote } from "@mosaik/tee";
 * const quote = parseQuote(await getTdxQuote(new Uint8Array(64)));
 * ```
 */
export async function getTdxQuote(
  reportData: Uint8Array,
  options: TsmOptions = {},
): Promise<Uint8Array> {
  if (reportData.length !== 64) throw new RangeError("REPORTDATA must be exactly 64 bytes");
  const root = options.root ?? TSM_REPORT_ROOT;
  const name = options.entry ?? `mosaik-${toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
  const dir = `${root}/${name}`;
  let created = false;
  try {
    const info = await Deno.stat(root);
    if (!info.isDirectory) throw new TsmError("unavailable", `${root} is not a directory`);
  } catch (e) {
    classify(e, root);
  }
  try {
    await Deno.mkdir(dir);
    created = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) classify(e, dir);
  }
  try {
    const provider = await readText(`${dir}/provider`);
    const want = options.provider ?? "tdx_guest";
    if (provider !== want) {
      throw new TsmError("provider", `provider is ${provider}, expected ${want}`);
    }
    const before = await generation(`${dir}/generation`);
    try {
      await Deno.writeFile(`${dir}/inblob`, reportData);
    } catch (e) {
      classify(e, `${dir}/inblob`);
    }
    let quote: Uint8Array;
    try {
      quote = await Deno.readFile(`${dir}/outblob`);
    } catch (e) {
      classify(e, `${dir}/outblob`);
    }
    const after = await generation(`${dir}/generation`);
    if (after !== before + 1) {
      throw new TsmError(
        "generation",
        `generation moved from ${before} to ${after}: concurrent use of ${dir}`,
      );
    }
    if (quote.length === 0) throw new TsmError("io", `${dir}/outblob is empty`);
    return quote;
  } finally {
    if (created) await Deno.remove(dir).catch(() => {});
  }
}
