// node testdata/run_node.js: the unit tests of state_test.js without a browser.
import { run } from "./state_test.js";

let failed = 0;
for (const r of run()) {
  console.log(`${r.error ? "FAIL" : "ok  "} ${r.name}${r.error ? "\n" + r.error : ""}`);
  if (r.error) failed++;
}
process.exit(failed ? 1 : 0);
