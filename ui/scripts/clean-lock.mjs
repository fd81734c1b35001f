// Drops the addresses npm writes into package-lock.json (funding links), so the lock file names
// packages and integrity hashes only and installs go through whatever registry npm is configured with.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
for (const entry of Object.values(lock.packages ?? {})) {
  delete entry.funding;
  delete entry.resolved;
}
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n");
