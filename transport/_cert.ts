// The X.509 certificate of a node's QUIC endpoint, made from its PeerId
// alone, and the SHA-256 a dialer pins it by.
//
// Every field is fixed by the PeerId, the signature too (zeros): a dialer
// builds the certificate of the peer it dials and passes its hash to
// `Deno.connectQuic` as `serverCertificateHashes` (the runtime's WebTransport
// verifier). That verifier accepts exactly the certificate with that hash
// and checks TLS 1.3's CertificateVerify (the handshake transcript signed by
// the server) against the public key inside it, which is the PeerId's. So
// only the holder of the PeerId's private key finishes the handshake, as
// with a trust anchor made from the key, without a certificate chain to
// build or a root store to trust. With `caCerts` instead, every connection
// keeps a verifier holding the runtime's whole root store (Mozilla's by
// default): measured, 170 KiB per connection (both ends) against 80 KiB
// this way, more with a larger store, and a handshake about a fifth slower.
// Nobody checks the certificate's own signature; rustls does check, when an
// endpoint listens, that its private key matches the certificate.
import { createHash } from "node:crypto";
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

/** The DER certificate of `peer`'s endpoint; its signature is zeros. */
function certificate(peer: PeerId): Uint8Array {
  const dns = serverName(peer);
  const extensions = [
    extension("2.5.29.19", true, seq()), // basicConstraints: not a CA
    extension("2.5.29.17", false, seq(tlv(0x82, encoder.encode(dns)))),
    extension("2.5.29.15", true, tlv(0x03, bytes(7, 0x80))), // digitalSignature
    extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))), // serverAuth
  ];
  const body = seq(
    tlv(0xa0, tlv(0x02, bytes(2))),
    tlv(0x02, bytes(1)),
    ED25519,
    name(dns),
    seq(generalizedTime("20200101000000Z"), generalizedTime("99991231235959Z")),
    name(dns),
    spki(peerIdToBytes(peer)),
    tlv(0xa3, seq(...extensions)),
  );
  return seq(body, ED25519, tlv(0x03, bytes(0), new Uint8Array(64)));
}

function pem(label: string, der: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...der)).replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** The node's certificate and PKCS#8 key, both PEM, for its endpoint to listen with. */
export function nodeCertificate(key: SecretKey): { cert: string; key: string } {
  const pkcs8 = seq(tlv(0x02, bytes(0)), ED25519, tlv(0x04, tlv(0x04, key.seed)));
  return { cert: pem("CERTIFICATE", certificate(key.peerId)), key: pem("PRIVATE KEY", pkcs8) };
}

/** How a dialer pins `peer`'s certificate: by its SHA-256, the one hash the runtime takes. */
export interface CertificateHash {
  /** Always "sha-256". */
  algorithm: "sha-256";
  /** The 32-byte digest. */
  value: Uint8Array;
}

/** The pin of `peer`'s certificate (cached: a node dials the same peers again and again). */
export function certificateHash(peer: PeerId): CertificateHash {
  let pin = pins.get(peer);
  if (pin === undefined) {
    const value = new Uint8Array(createHash("sha256").update(certificate(peer)).digest());
    pin = { algorithm: "sha-256", value };
    if (pins.size >= 4096) pins.clear();
    pins.set(peer, pin);
  }
  return pin;
}

const pins = new Map<PeerId, CertificateHash>();
