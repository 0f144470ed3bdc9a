// Text helpers of the JWT files: strict UTF-8 and unpadded base64url.

/** UTF-8 encoder. */
export const encoder = new TextEncoder();
/** UTF-8 decoder that throws on malformed input. */
export const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes bytes as unpadded base64url. */
export function b64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}
