// SPDX-License-Identifier: Apache-2.0
// Reads the checks.json files the conformance suite wrote under DIR and
// fails (exit 1) on any FAILURE not listed in expected-failures.txt, or when
// DIR holds fewer results than scenarios were run (a scenario that crashed
// writes none). Prints one line per scenario run.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const [dir, wantRuns] = process.argv.slice(2);
const expected = new Map();
for (const line of readFileSync(new URL("expected-failures.txt", import.meta.url), "utf8").split("\n")) {
  if (!line.trim() || line.startsWith("#")) continue;
  const [scenario, check, ...why] = line.trim().split(/\s+/);
  expected.set(`${scenario} ${check}`, why.join(" "));
}
let bad = 0, runs = 0;
for (const version of readdirSync(dir)) {
  for (const run of readdirSync(join(dir, version))) {
    runs++;
    const scenario = run.replace(/^server-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "");
    const checks = JSON.parse(readFileSync(join(dir, version, run, "checks.json"), "utf8"));
    const count = (s) => checks.filter((c) => c.status === s).length;
    const unexpected = checks.filter((c) => c.status === "FAILURE" && !expected.has(`${scenario} ${c.id}`));
    const allowed = checks.filter((c) => c.status === "FAILURE" && expected.has(`${scenario} ${c.id}`));
    console.log(`${unexpected.length ? "FAIL" : "ok  "} ${version} ${scenario}: ${count("SUCCESS")} passed, ${allowed.length} expected failures, ${count("WARNING")} warnings`);
    for (const c of unexpected) {
      bad++;
      console.log(`     ${c.id}: ${c.errorMessage ?? c.description}`);
    }
    if (checks.length === 0) {
      bad++;
      console.log("     no checks ran");
    }
  }
}
if (runs !== Number(wantRuns)) {
  bad++;
  console.log(`FAIL ${runs} results for ${wantRuns} scenarios run`);
}
process.exit(bad ? 1 : 0);
