import assert from "node:assert/strict";
import { concatBytes, toHex } from "@mosaik/transport";
import { sha256 } from "@noble/hashes/sha2.js";
import { parseQuote, type Quote } from "./quote.ts";
import { type TdReport } from "./report.ts";
import { QuoteParseError, QuoteVerificationError } from "./errors.ts";
import { verifyQuoteSignatures } from "./verify.ts";
import {
  quoteFiles,
  readQuote,
  sidecar,
  u16le,
  u32le,
  withCertificationData,
} from "./_test_vectors.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>; // sidecar JSON

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "+00:00");
}

function checkEnclave(got: Quote["signatureData"]["qeReport"], want: Json) {
  assert.equal(toHex(got.cpuSvn), want.cpu_svn);
  assert.equal(got.miscSelect, want.misc_select);
  assert.equal(toHex(got.isvExtProdId), want.isv_ext_prod_id);
  assert.equal(toHex(got.attributes), want.attributes);
  assert.equal(toHex(got.mrEnclave), want.mr_enclave);
  assert.equal(toHex(got.mrSigner), want.mr_signer);
  assert.equal(toHex(got.configId), want.config_id);
  assert.equal(got.isvProdId, want.isv_prod_id);
  assert.equal(got.isvSvn, want.isv_svn);
  assert.equal(got.configSvn, want.config_svn);
  assert.equal(toHex(got.isvFamilyId), want.isv_family_id);
  assert.equal(toHex(got.reportData), want.report_data);
}

for (const file of quoteFiles()) {
  Deno.test(`parseQuote matches the sidecar of ${file}`, () => {
    const bytes = readQuote(file);
    const meta = sidecar(file) as Json;
    const p = meta["parsed (by independent parser; matches source assertions where they exist)"];
    const q = parseQuote(bytes);
    const h = p.header;
    assert.equal(q.header.version, h.version);
    assert.equal(q.header.attestationKeyType, h.attestation_key_type);
    assert.equal(q.header.teeType, parseInt(h.tee_type, 16));
    assert.equal(q.header.qeSvn, h["bytes_8_9 (v3: QE SVN, v4/v5: reserved)"]);
    assert.equal(q.header.pceSvn, h["bytes_10_11 (v3: PCE SVN, v4/v5: reserved)"]);
    assert.equal(toHex(q.header.qeVendorId), h.qe_vendor_id);
    assert.equal(toHex(q.header.userData), h.user_data);
    if (p.v5_body_descriptor) assert.equal(q.bodyType, p.v5_body_descriptor.type);
    else assert.equal(q.bodyType, undefined);

    if (q.body.kind === "sgx") checkEnclave(q.body, p.body);
    else {
      const b: TdReport = q.body;
      const w = p.body;
      assert.equal(b.kind, w.tee_tcb_svn2 ? "td15" : "td10");
      assert.equal(toHex(b.teeTcbSvn), w.tee_tcb_svn);
      assert.equal(toHex(b.mrSeam), w.mr_seam);
      assert.equal(toHex(b.mrSignerSeam), w.mr_signer_seam);
      assert.equal(toHex(b.seamAttributes), w.seam_attributes);
      assert.equal(toHex(b.tdAttributes), w.td_attributes);
      assert.equal(toHex(b.xfam), w.xfam);
      assert.equal(toHex(b.mrTd), w.mr_td);
      assert.equal(toHex(b.mrConfigId), w.mr_config_id);
      assert.equal(toHex(b.mrOwner), w.mr_owner);
      assert.equal(toHex(b.mrOwnerConfig), w.mr_owner_config);
      assert.deepEqual(b.rtmrs.map(toHex), [w.rtmr0, w.rtmr1, w.rtmr2, w.rtmr3]);
      assert.equal(toHex(b.reportData), w.report_data);
      assert.equal(b.teeTcbSvn2 && toHex(b.teeTcbSvn2), w.tee_tcb_svn2);
      assert.equal(b.mrServiceTd && toHex(b.mrServiceTd), w.mr_service_td);
      assert.equal(b.tdAttributeFlags.debug, (b.tdAttributes[0] & 1) === 1);
    }

    const l = p.layout;
    assert.deepEqual([0, q.signedRegion.length], l.signed_region);
    assert.equal(q.trailingBytes, l.bytes_after_signature_data);
    const s = q.signatureData;
    assert.equal(toHex(s.signature), p.quote_signature_r_s);
    assert.equal(toHex(s.attestationKey), p.attestation_key_x_y);
    checkEnclave(s.qeReport, p.qe_report);
    assert.equal(toHex(s.qeReportSignature), p.qe_report_signature_r_s);
    assert.equal(toHex(s.qeAuthData), p.qe_auth_data);
    assert.equal(s.certification.type, l.inner_cert_data_type);
    assert.equal(s.certification.data.length, l["inner_cert_data_size (PCK chain PEM)"]);
    assert.equal(s.certification.data.at(-1) === 0, l.pck_chain_pem_ends_with_NUL);
    assert(s.certification.type === 5);

    const certs = s.certification.certificates;
    assert.equal(certs.length, p.pck_chain.length);
    for (const [i, c] of certs.entries()) {
      const w = p.pck_chain[i];
      assert.equal(c.subject, w.subject);
      assert.equal(c.issuer, w.issuer);
      assert.equal("0x" + c.serial, w.serial);
      assert.equal(iso(c.notBefore), w.not_before);
      assert.equal(iso(c.notAfter), w.not_after);
      assert.equal(toHex(sha256(c.der)), w.sha256_der);
    }
    const pck = s.certification.pck!;
    const e = p.pck_cert_extensions;
    assert.equal(toHex(pck.ppid), e.ppid);
    assert.deepEqual(pck.sgxTcbComponents, e.tcb.sgx_tcb_comp_svns);
    assert.equal(pck.pceSvn, e.tcb.pcesvn);
    assert.equal(toHex(pck.cpuSvn), e.tcb.cpusvn);
    assert.equal(pck.pceId, e.pceid);
    assert.equal(pck.fmspc, e.fmspc);
    assert.equal(pck.sgxType, e.sgx_type);
    assert.equal(pck.platformInstanceId && toHex(pck.platformInstanceId), e.platform_instance_id);
    if (e.configuration) {
      assert.deepEqual(pck.configuration, {
        dynamicPlatform: e.configuration.dynamic_platform,
        cachedKeys: e.configuration.cached_keys,
        smtEnabled: e.configuration.smt_enabled,
      });
    } else assert.equal(pck.configuration, undefined);
  });
}

Deno.test("parseQuote can refuse trailing bytes", () => {
  const q01 = readQuote("q01_tdx_v4_phala_fmspc-b0c06f000000.bin");
  assert.throws(
    () => parseQuote(q01, { allowTrailingBytes: false }),
    (e) => e instanceof QuoteParseError && e.offset === 5006 - 70,
  );
  parseQuote(q01.subarray(0, 5006 - 70), { allowTrailingBytes: false });
});

// Layouts no real vector has, rebuilt from real quotes.
// Their signatures no longer verify; these are parser tests.

Deno.test("parseQuote reads a v5 quote with a TD 1.0 body (type 2)", () => {
  const v4 = readQuote("q01_tdx_v4_phala_fmspc-b0c06f000000.bin").subarray(0, 5006 - 70);
  const header = v4.slice(0, 48);
  header[0] = 5;
  const v5 = concatBytes(header, u16le(2), u32le(584), v4.subarray(48));
  const q = parseQuote(v5, { allowTrailingBytes: false });
  const ref = parseQuote(v4);
  assert.equal(q.bodyType, 2);
  assert.equal(q.body.kind, "td10");
  assert.equal(q.signedRegion.length, 638);
  assert(q.body.kind === "td10" && ref.body.kind === "td10");
  assert.deepEqual(q.body.mrTd, ref.body.mrTd);
  assert.deepEqual(q.signatureData.qeAuthData, ref.signatureData.qeAuthData);
});

Deno.test("parseQuote reads a v5 quote with an SGX body (type 1)", () => {
  const v3 = readQuote("q03_sgx_v3_phala_fmspc-00a067110000.bin");
  const header = v3.slice(0, 48);
  header[0] = 5;
  const sig = v3.subarray(436);
  const qeSection = sig.subarray(128);
  const sigData = concatBytes(sig.subarray(0, 128), u16le(6), u32le(qeSection.length), qeSection);
  const v5 = concatBytes(
    header,
    u16le(1),
    u32le(384),
    v3.subarray(48, 432),
    u32le(sigData.length),
    sigData,
  );
  const q = parseQuote(v5, { allowTrailingBytes: false });
  const ref = parseQuote(v3);
  assert.equal(q.bodyType, 1);
  assert.equal(q.body.kind, "sgx");
  assert.equal(q.signedRegion.length, 438);
  assert.deepEqual(q.body, { ...ref.body, raw: q.body.raw });
  assert.deepEqual(q.signatureData.certification.data, ref.signatureData.certification.data);
});

Deno.test("parseQuote surfaces certification data types 1-4 without trusting them", async () => {
  const v4 = readQuote("q04_tdx_v4_google_spr-e4_fmspc-50806f000000.bin");
  const ppid = new Uint8Array(16).fill(0xab);
  const cpuSvn = new Uint8Array(16).fill(3);
  const type1 = concatBytes(ppid, cpuSvn, u16le(11), new Uint8Array([0, 0]));
  for (
    const [type, data] of [[1, type1], [3, new Uint8Array(40)], [4, new Uint8Array(10)]] as const
  ) {
    const quote = withCertificationData(v4, type, data);
    const cd = parseQuote(quote).signatureData.certification;
    assert.equal(cd.type, type);
    assert.deepEqual(cd.data, data);
    if (cd.type === 1) {
      assert.deepEqual(cd.platform, { ppid, cpuSvn, pceSvn: 11, pceId: "0000" });
    } else assert.equal((cd as { platform?: unknown }).platform, undefined);
    await assert.rejects(
      verifyQuoteSignatures(quote, { now: Date.parse("2023-07-01T01:00:00Z") }),
      (e) => e instanceof QuoteVerificationError && e.code === "unsupported",
    );
  }
});
