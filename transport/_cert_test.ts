import assert from "node:assert/strict";
import { SecretKey } from "./ids.ts";
import { certificateHash, nodeCertificate, serverName } from "./_cert.ts";

Deno.test("cert: a node's certificate follows from its PeerId, and so does its pin", () => {
  const key = SecretKey.generate();
  assert.equal(nodeCertificate(key).cert, nodeCertificate(SecretKey.from(key.seed)).cert);
  const pin = certificateHash(key.peerId);
  assert.equal(pin.algorithm, "sha-256");
  assert.equal(pin.value.length, 32);
  assert.notDeepEqual(pin.value, certificateHash(SecretKey.generate().peerId).value);
  assert.ok(serverName(key.peerId).startsWith(key.peerId));
});

Deno.test("cert: an endpoint cannot serve a PeerId's certificate without its key", () => {
  const owner = SecretKey.generate();
  const thief = SecretKey.generate();
  const quic = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  try {
    assert.throws(() =>
      quic.listen({
        alpnProtocols: ["x"],
        cert: nodeCertificate(owner).cert,
        key: nodeCertificate(thief).key,
      })
    );
  } finally {
    quic.close();
  }
});
