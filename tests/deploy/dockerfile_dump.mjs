// Parses a Dockerfile with the npm dockerfile-ast package (the parser of VS Code's Docker
// language server) and prints its instructions and comments as JSON, for the checks of
// tests/deploy/run.py. usage: STOCKADE_NPM_DIR=DIR node dockerfile_dump.mjs DOCKERFILE
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.STOCKADE_NPM_DIR, "package.json"));
const { DockerfileParser } = require("dockerfile-ast");
const text = readFileSync(process.argv[2], "utf8");
const dockerfile = DockerfileParser.parse(text);
const line = (range) => range.start.line + 1;
const out = {
  instructions: dockerfile.getInstructions().map((i) => ({
    keyword: i.getKeyword(),
    line: line(i.getRange()),
    args: i.getArguments().map((a) => a.getValue()),
    flags: (i.getFlags ? i.getFlags() : []).map((f) => ({ name: f.getName(), value: f.getValue() })),
    // FROM: the image reference's parts as the parser reads them
    image: i.getKeyword() === "FROM" ? {
      name: i.getImageName(), tag: i.getImageTag(), digest: i.getImageDigest(),
      stage: i.getBuildStage() } : undefined,
  })),
  comments: dockerfile.getComments().map((c) => ({ line: line(c.getRange()), text: c.getContent() })),
};
console.log(JSON.stringify(out));
