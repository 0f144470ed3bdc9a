// Parsed PCK chains of quotes, by their bytes: the quotes of one platform all
// carry the same chain, and its X.509 parsing costs more than the rest of a
// quote. Bounded, since a quote's chain bytes are not covered by its
// signatures: the oldest chain goes first.
import { remember } from "@mosaik/transport";
import type { Certificate } from "./x509.ts";
import type { PckExtensions } from "./pck_extensions.ts";

/** A parsed chain and the SGX extensions of its leaf. */
export interface ParsedChain {
  certificates: Certificate[];
  pck?: PckExtensions;
}

/** Chains remembered at most. */
export const PARSED_CHAINS_MAX = 256;

const chains = new Map<string, ParsedChain>();

/** The chain with bytes `key`, made by `parse` only when it is not remembered. */
export function parsedChain(key: string, parse: () => ParsedChain): ParsedChain {
  const hit = chains.get(key);
  if (hit) return hit;
  const entry = parse();
  remember(chains, key, entry, PARSED_CHAINS_MAX);
  return entry;
}
