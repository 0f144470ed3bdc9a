import assert from "node:assert/strict";
import { FileStorage } from "./file_storage.ts";
import type { Entry } from "./storage.ts";
import { MemoryStorage } from "./storage.ts";

const cfg = { cluster: "c", voters: ["a"], learners: [] };
const entry = (index: number, term = 1): Entry => ({
  index,
  term,
  type: 1,
  data: new Uint8Array([index]),
});

async function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "groups-fs-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("file storage: hard state, entries, overwrite and reopen", () =>
  withDir((dir) => {
    const s = FileStorage.open(dir);
    s.setHardState({ term: 4, vote: "b" });
    s.append([entry(1), entry(2), entry(3)]);
    s.append([entry(3, 2), entry(4, 2)]);
    s.close();
    const t = FileStorage.open(dir);
    const st = t.load();
    assert.deepEqual(st.hard, { term: 4, vote: "b" });
    assert.deepEqual(st.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 2], [4, 2]]);
    assert.deepEqual(st.entries[3].data, new Uint8Array([4]));
    assert.equal(t.recoveredTruncation, 0);
    t.setHardState({ term: 5, vote: "c", epoch: "e1", commit: 3 });
    t.close();
    const u = FileStorage.open(dir);
    assert.deepEqual(u.load().hard, { term: 5, vote: "c", epoch: "e1", commit: 3 });
    u.close();
  }));

Deno.test("file storage: a torn tail (crash mid-write) is truncated; earlier records survive", () =>
  withDir((dir) => {
    const s = FileStorage.open(dir);
    s.setHardState({ term: 2 });
    s.append([entry(1), entry(2)]);
    s.close();
    const seg = [...Deno.readDirSync(dir)][0].name;
    const full = Deno.readFileSync(`${dir}/${seg}`);
    // Simulate a crash after writing only part of one more record.
    const s2 = FileStorage.open(dir);
    s2.append([entry(3)]);
    s2.close();
    const longer = Deno.readFileSync(`${dir}/${seg}`);
    for (let cut = full.length + 1; cut < longer.length; cut += 3) {
      Deno.writeFileSync(`${dir}/${seg}`, longer.subarray(0, cut));
      const r = FileStorage.open(dir);
      assert.deepEqual(r.load().entries.map((e) => e.index), [1, 2]);
      assert.equal(r.recoveredTruncation, cut - full.length);
      // New writes go after the truncated point and survive.
      r.append([entry(3, 3)]);
      r.close();
      const again = FileStorage.open(dir);
      assert.deepEqual(again.load().entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [
        3,
        3,
      ]]);
      again.close();
    }
  }));

Deno.test("file storage: a corrupted record (bad CRC) ends recovery there", () =>
  withDir((dir) => {
    const s = FileStorage.open(dir);
    s.append([entry(1)]);
    s.append([entry(2)]);
    s.close();
    const seg = [...Deno.readDirSync(dir)][0].name;
    const bytes = Deno.readFileSync(`${dir}/${seg}`);
    bytes[bytes.length - 1] ^= 0xff;
    Deno.writeFileSync(`${dir}/${seg}`, bytes);
    const r = FileStorage.open(dir);
    assert.deepEqual(r.load().entries.map((e) => e.index), [1]);
    r.close();
  }));

Deno.test("file storage: snapshot checkpoints into a new segment and drops old ones", () =>
  withDir((dir) => {
    const s = FileStorage.open(dir, { segmentBytes: 64 });
    s.setHardState({ term: 1, vote: "a" });
    for (let i = 1; i <= 20; i++) s.append([entry(i)]);
    assert.ok([...Deno.readDirSync(dir)].length > 1);
    s.saveSnapshot({ index: 15, term: 1, config: cfg, data: new Uint8Array([9]) }, false);
    assert.equal([...Deno.readDirSync(dir)].length, 1);
    s.append([entry(21)]);
    s.close();
    const r = FileStorage.open(dir);
    const st = r.load();
    assert.equal(st.snapshot?.index, 15);
    assert.deepEqual(st.snapshot?.data, new Uint8Array([9]));
    assert.deepEqual(st.entries.map((e) => e.index), [16, 17, 18, 19, 20, 21]);
    assert.deepEqual(st.hard, { term: 1, vote: "a" });
    r.reset();
    r.close();
    assert.deepEqual(FileStorage.open(dir).load().entries, []);
  }));

Deno.test("file storage: recovery fuzz over random truncation points and garbage", () =>
  withDir((dir) => {
    const s = FileStorage.open(dir, { sync: false });
    for (let i = 1; i <= 50; i++) s.append([entry(i)]);
    s.close();
    const seg = [...Deno.readDirSync(dir)][0].name;
    const bytes = Deno.readFileSync(`${dir}/${seg}`);
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) {
      const cut = Math.floor(rnd() * bytes.length);
      const junk = new Uint8Array(Math.floor(rnd() * 40)).map(() => Math.floor(rnd() * 256));
      const data = new Uint8Array(cut + junk.length);
      data.set(bytes.subarray(0, cut));
      data.set(junk, cut);
      Deno.writeFileSync(`${dir}/${seg}`, data);
      const r = FileStorage.open(dir, { sync: false });
      const got = r.load().entries.map((e) => e.index);
      r.close();
      assert.deepEqual(got, Array.from({ length: got.length }, (_, k) => k + 1));
    }
  }));

Deno.test("memory storage keeps state across node restarts", () => {
  const m = new MemoryStorage();
  m.append([entry(1), entry(2)]);
  m.saveSnapshot({ index: 1, term: 1, config: cfg, data: new Uint8Array() }, false);
  assert.deepEqual(m.load().entries.map((e) => e.index), [2]);
  m.reset();
  assert.equal(m.load().snapshot, undefined);
});

Deno.test("file storage: group commit writes at once and syncs them with one flush", () =>
  withDir(async (dir) => {
    const s = FileStorage.open(dir);
    assert.equal(s.groupCommit?.unsynced, false);
    s.setHardState({ term: 2, vote: "a" });
    s.append([entry(1), entry(2)]);
    assert.equal(s.groupCommit?.unsynced, true);
    await s.groupCommit!.flush();
    assert.equal(s.groupCommit?.unsynced, false);
    s.append([entry(3)]);
    s.close(); // a clean close syncs what waits
    const t = FileStorage.open(dir);
    assert.deepEqual(t.load().entries.map((e) => e.index), [1, 2, 3]);
    t.close();
    const each = FileStorage.open(dir, { groupCommit: false });
    assert.equal(each.groupCommit, undefined);
    each.close();
  }));
