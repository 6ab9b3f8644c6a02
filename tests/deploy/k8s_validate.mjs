// Validates Kubernetes YAML against the Kubernetes API schemas (the npm kubernetes-models
// validators) and prints each document as JSON for the PSS checker (tests/deploy/pss.py).
// usage: node k8s_validate.mjs FILE...   (one line per document: "ok KIND NAME JSON" or
// "invalid KIND NAME: WHY"; exit 1 if any is invalid). Run with NODE_PATH unset: the
// packages are resolved from the directory tests/deploy/run.py installed them in, given as
// STOCKADE_NPM_DIR.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const base = process.env.STOCKADE_NPM_DIR;
const require = createRequire(path.join(base, "package.json"));
const YAML = require("yaml");
let bad = 0;

async function modelOf(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  // The package's "exports" are for import only: its own index of each API version.
  const dir = path.join(base, "node_modules", "kubernetes-models", ...(group ? [group] : []), version);
  const mod = await import(pathToFileURL(path.join(dir, "index.js")).href);
  return mod[kind];
}

for (const file of process.argv.slice(2)) {
  for (const doc of YAML.parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`invalid ${file}: YAML: ${doc.errors[0].message}`);
      bad++;
      continue;
    }
    const obj = doc.toJS();
    if (!obj) continue;
    const name = `${obj.kind}/${obj.metadata?.name}`;
    try {
      const Model = await modelOf(obj.apiVersion, obj.kind);
      if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
      new Model(obj).validate();
      console.log(`ok ${name} ${JSON.stringify(obj)}`);
    } catch (e) {
      console.log(`invalid ${name}: ${e.message.replace(/\n/g, " ")}`);
      bad++;
    }
  }
}
process.exit(bad ? 1 : 0);
