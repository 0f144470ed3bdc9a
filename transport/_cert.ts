// Self-signed Ed25519 X.509 certificates for QUIC, and the trust anchor a
// dialer synthesizes from a PeerId alone. rustls uses only an anchor's
// subject and public key (it never checks the anchor's own signature), so an
// anchor built from the public key pins the handshake to whoever holds the
// matching private key.
import type { PeerId, SecretKey } from "./ids.ts";
import { peerIdToBytes } from "./ids.ts";

const encoder = new TextEncoder();

function length(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>>= 8;
  }
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const size = parts.reduce((s, p) => s + p.length, 0);
  const head = [tag, ...length(size)];
  const out = new Uint8Array(head.length + size);
  out.set(head);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
const bytes = (...b: number[]) => new Uint8Array(b);

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, new Uint8Array(out));
}

const ED25519 = seq(oid("1.3.101.112"));

function name(commonName: string): Uint8Array {
  return seq(tlv(0x31, seq(oid("2.5.4.3"), tlv(0x0c, encoder.encode(commonName)))));
}

function generalizedTime(date: string): Uint8Array {
  return tlv(0x18, encoder.encode(date));
}

function spki(publicKey: Uint8Array): Uint8Array {
  return seq(ED25519, tlv(0x03, bytes(0), publicKey));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? seq(oid(id), tlv(0x01, bytes(0xff)), tlv(0x04, value))
    : seq(oid(id), tlv(0x04, value));
}

/** The DNS name a node's certificate is issued to. */
export function serverName(peer: PeerId): string {
  return `${peer}.mosaik`;
}

function tbs(peer: PeerId, publicKey: Uint8Array, ca: boolean): Uint8Array {
  const dns = serverName(peer);
  const basicConstraints = ca ? seq(tlv(0x01, bytes(0xff))) : seq();
  const extensions = [extension("2.5.29.19", true, basicConstraints)];
  if (!ca) {
    extensions.push(extension("2.5.29.17", false, seq(tlv(0x82, encoder.encode(dns)))));
    extensions.push(extension("2.5.29.15", true, tlv(0x03, bytes(7, 0x80)))); // digitalSignature
    extensions.push(extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1")))); // serverAuth
  }
  return seq(
    tlv(0xa0, tlv(0x02, bytes(2))),
    tlv(0x02, bytes(ca ? 2 : 1)),
    ED25519,
    name(dns),
    seq(generalizedTime("20200101000000Z"), generalizedTime("99991231235959Z")),
    name(dns),
    spki(publicKey),
    tlv(0xa3, seq(...extensions)),
  );
}

function pem(label: string, der: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...der)).replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** The node's own leaf certificate and PKCS#8 key, both PEM. */
export function selfSigned(key: SecretKey): { cert: string; key: string } {
  const body = tbs(key.peerId, key.publicKey, false);
  const cert = seq(body, ED25519, tlv(0x03, bytes(0), key.sign(body)));
  const pkcs8 = seq(tlv(0x02, bytes(0)), ED25519, tlv(0x04, tlv(0x04, key.seed)));
  return { cert: pem("CERTIFICATE", cert), key: pem("PRIVATE KEY", pkcs8) };
}

/**
 * A trust anchor for `peer` made from its public key alone. Its signature is
 * zeros: rustls never checks an anchor's own signature.
 */
export function anchorFor(peer: PeerId): string {
  let anchor = anchors.get(peer);
  if (anchor === undefined) {
    const body = tbs(peer, peerIdToBytes(peer), true);
    anchor = pem("CERTIFICATE", seq(body, ED25519, tlv(0x03, bytes(0), new Uint8Array(64))));
    if (anchors.size >= 4096) anchors.clear();
    anchors.set(peer, anchor);
  }
  return anchor;
}

const anchors = new Map<PeerId, string>();
