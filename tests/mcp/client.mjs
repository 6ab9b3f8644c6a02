// An MCP client made with the official TypeScript SDK (@modelcontextprotocol/sdk, stdio
// transport), driven by tests/integration/test_mcp.py: it starts the server command it is
// given, plays one scenario against it, and prints what it saw as one JSON document on stdout
// (the Python test asserts on it). The test copies this file next to the SDK it npm-installed,
// so that the import below resolves there; nothing of the SDK is in the repository.
//
// usage: node client.mjs '["stockade", "mcp", ...]' SCENARIO
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, ...args] = JSON.parse(process.argv[2]);
const scenario = process.argv[3];
const transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });
const client = new Client({ name: "stockade-test", version: "1.0.0" });
const seen = {};

// A tool's answer as the test wants it: the structured output, or the error text.
async function call(name, args, options) {
  const result = await client.callTool({ name, arguments: args }, undefined, options);
  if (result.isError) return { error: result.content.map((c) => c.text).join("\n") };
  return result.structuredContent;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Every tool against real sandboxes.
async function tools() {
  const listed = await client.listTools();
  seen.tools = Object.fromEntries(
    listed.tools.map((t) => [t.name, {
      annotations: t.annotations, hasInput: !!t.inputSchema, hasOutput: !!t.outputSchema,
    }]),
  );
  seen.policy = await call("describe_policy", {});
  seen.create = await call("sandbox_create", { name: "work" });
  seen.layers = await call("exec", {
    sandbox: "work",
    command: ["sh", "-c", "id -u; hostname; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status; " +
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"],
  });
  seen.status = await call("exec", { sandbox: "work", shell: "echo out; echo err >&2; exit 3" });
  seen.io = await call("exec", {
    sandbox: "work", shell: "cat; echo \"$GREETING\"; pwd", stdin: "from stdin\n",
    env: { GREETING: "hello" }, cwd: "/tmp",
  });
  seen.flood = await call("exec", { sandbox: "work", shell: "yes stockade | head -c 1000000" });
  seen.notFound = await call("exec", { sandbox: "work", command: ["no-such-program"] });
  const text = "naïve café ☕\nline two\n";
  seen.write = await call("write_file", { sandbox: "work", path: "/tmp/notes.txt", content: text });
  seen.read = await call("read_file", { sandbox: "work", path: "/tmp/notes.txt" });
  seen.readMatches = seen.read.content === text;
  const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0x80]).toString("base64");
  seen.writeBinary = await call("write_file",
    { sandbox: "work", path: "/tmp/bin", content: bytes, encoding: "base64" });
  seen.readBinary = await call("read_file", { sandbox: "work", path: "/tmp/bin", encoding: "base64" });
  seen.readBinaryMatches = seen.readBinary.content === bytes;
  seen.checkInside = await call("exec", { sandbox: "work", shell: "od -An -tx1 /tmp/bin; stat -c '%U %s' /tmp/notes.txt" });
  await call("exec", { sandbox: "work", shell: "mkdir /tmp/d && touch /tmp/d/x && ln -s notes.txt /tmp/link" });
  seen.list = await call("list_files", { sandbox: "work", path: "/tmp" });
  seen.deleteFile = await call("delete_file", { sandbox: "work", path: "/tmp/notes.txt" });
  seen.deleteDirRefused = await call("delete_file", { sandbox: "work", path: "/tmp/d" });
  seen.deleteDir = await call("delete_file", { sandbox: "work", path: "/tmp/d", recursive: true });
  seen.listAfter = await call("list_files", { sandbox: "work", path: "/tmp" });
  seen.readMissing = await call("read_file", { sandbox: "work", path: "/tmp/notes.txt" });
  seen.run = await call("run", { command: ["sh", "-c", "id -u; hostname; ls /tmp | wc -l"] });
  seen.sandboxes = await call("sandbox_list", {});
  seen.destroy = await call("sandbox_destroy", { sandbox: "work" });
  seen.sandboxesAfter = await call("sandbox_list", {});
  seen.execAfter = await call("exec", { sandbox: "work", command: ["true"] });
  // left for the end of the connection to remove
  seen.kept = await call("sandbox_create", { name: "left-behind" });
}

// What the model may try in order to get more than the operator allowed.
async function refusals() {
  const box = await call("sandbox_create", {});
  seen.create = box;
  const attempts = {
    profileNotAllowed: ["sandbox_create", { profile: "wide-open" }],
    networkArgument: ["sandbox_create", { network: "public" }],
    volumeArgument: ["sandbox_create", { volumes: ["/:/host"] }],
    policyArgument: ["run", { command: ["true"], policy: "/tmp/mine.json" }],
    flagAsName: ["sandbox_create", { name: "--network=public" }],
    operatorsSandbox: ["exec", { sandbox: "operators", command: ["true"] }],
    destroyOperators: ["sandbox_destroy", { sandbox: "operators" }],
    readOperators: ["read_file", { sandbox: "operators", path: "/etc/hostname" }],
    envBadName: ["exec", { sandbox: box.name, command: ["true"], env: { "HOME=/x": "y" } }],
    envWithoutValue: ["exec", { sandbox: box.name, command: ["env"], env: { SERVER_SECRET: null } }],
    relativeCwd: ["exec", { sandbox: box.name, command: ["true"], cwd: "tmp" }],
    nulInArgv: ["exec", { sandbox: box.name, command: ["echo", "a\u0000--network=public"] }],
    overTimeout: ["exec", { sandbox: box.name, command: ["true"], timeout: 100000 }],
    bothCommandAndShell: ["exec", { sandbox: box.name, command: ["true"], shell: "true" }],
  };
  seen.refused = {};
  for (const [key, [tool, args]] of Object.entries(attempts)) seen.refused[key] = await call(tool, args);
  // The server's own environment stays out of the sandbox.
  seen.sandboxEnv = await call("exec", { sandbox: box.name, command: ["env"] });
  // A flag after `--` is a program's name, not a flag.
  seen.flagAsCommand = await call("exec", { sandbox: box.name, command: ["--network=public"] });
  // The operator's policy has no network: the host's loopback server is out of reach.
  const probe = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; (exec 3<>/dev/tcp/127.0.0.1/" +
    process.env.HOST_PORT + ") 2>/dev/null && echo connected || echo refused";
  seen.network = await call("exec", { sandbox: box.name, command: ["bash", "-c", probe] });
  seen.runNetwork = await call("run", { command: ["bash", "-c", probe] });
  // A profile the operator allowed is the model's to choose; the policy file still applies.
  const narrow = await call("sandbox_create", { profile: "narrow" });
  seen.narrow = narrow;
  const show = { command: ["sh", "-c", "hostname; echo \"$FROM_POLICY\""] };
  seen.narrowInside = await call("exec", { sandbox: narrow.name, ...show });
  seen.defaultInside = await call("exec", { sandbox: box.name, ...show });
  seen.sandboxes = await call("sandbox_list", {});
  seen.policy = await call("describe_policy", {});
}

// An MCP server (tests/mcp/server.mjs) run inside `stockade run`: the protocol passes through.
async function wrapped() {
  seen.tools = (await client.listTools()).tools.map((t) => t.name);
  seen.whoami = JSON.parse((await client.callTool({ name: "whoami", arguments: {} })).content[0].text);
  const text = "x".repeat(300000) + " naïve\n";
  const echoed = await client.callTool({ name: "echo", arguments: { text } });
  seen.echoMatches = echoed.content[0].text === text;
}

// Progress notifications for a long exec; cancellation kills it inside the sandbox.
async function progressAndCancel() {
  const box = (await call("sandbox_create", { name: "slow" })).name;
  const notes = [];
  seen.long = await call("exec", { sandbox: box, shell: "sleep 2.6; echo finished" },
    { onprogress: (p) => notes.push(p) });
  seen.progress = notes;
  for (const [key, script] of [["plain", "echo $$ > /tmp/pid; exec sleep 300"],
    ["ignoresTerm", "trap '' TERM; echo $$ > /tmp/pid; sleep 300; echo survived"]]) {
    const controller = new AbortController();
    const started = Date.now();
    const pending = call("exec", { sandbox: box, shell: script }, { signal: controller.signal })
      .then((r) => ({ answered: r }), (e) => ({ aborted: String(e) }));
    await sleep(800);
    controller.abort("the test cancels it");
    const outcome = await pending;
    // The exec must die inside: SIGTERM, or SIGKILL 2 s later for one that ignores it.
    let alive;
    for (let i = 0; i < 40; i++) {
      const r = await call("exec", {
        sandbox: box,
        shell: "p=$(cat /tmp/pid); kill -0 $p 2>/dev/null && echo alive || echo dead; " +
          "ps -eo pid=,args= | grep -c '[s]leep 300' || true",
      });
      alive = r.stdout;
      if (alive.startsWith("dead") && alive.trim().endsWith("0")) break;
      await sleep(250);
    }
    seen[key] = { outcome, alive, tookMs: Date.now() - started };
  }
  seen.after = await call("exec", { sandbox: box, command: ["echo", "still", "works"] });
}

const scenarios = { tools, refusals, progressAndCancel, wrapped };
try {
  await client.connect(transport);
  seen.server = client.getServerVersion();
  seen.capabilities = client.getServerCapabilities();
  await scenarios[scenario]();
} catch (e) {
  seen.exception = String(e && e.stack ? e.stack : e);
}
await client.close();
process.stdout.write(JSON.stringify(seen) + "\n");
