// Options that cannot work fail when joining, naming the option to set.
import assert from "node:assert/strict";
import { checkGroupConfig, DEFAULT_GROUP_CONFIG } from "./config.ts";
import { GroupConfigError } from "./errors.ts";

Deno.test("a voter without bootstrapExpect is refused with an error naming the option", () => {
  assert.throws(
    () => checkGroupConfig(DEFAULT_GROUP_CONFIG),
    (e) => e instanceof GroupConfigError && /bootstrapExpect/.test(e.message),
  );
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => checkGroupConfig({ ...DEFAULT_GROUP_CONFIG, bootstrapExpect: bad }),
      GroupConfigError,
    );
  }
  checkGroupConfig({ ...DEFAULT_GROUP_CONFIG, bootstrapExpect: 1 });
  checkGroupConfig({ ...DEFAULT_GROUP_CONFIG, bootstrapExpect: 3 });
  checkGroupConfig({ ...DEFAULT_GROUP_CONFIG, learner: true }); // learners never form a group
});
