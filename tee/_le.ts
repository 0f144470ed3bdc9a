// Little-endian integers of quote structures.

/** The little-endian 16-bit integer at `i`. */
export const u16 = (b: Uint8Array, i: number): number => b[i] | (b[i + 1] << 8);
