// A small MCP server made with the official TypeScript SDK (stdio transport), for the test
// that wraps a whole MCP server in `stockade run` (tests/integration/test_mcp.py): its tools
// say where they run (user, hostname, the process's confinement, the network interfaces) and
// echo text back, so the client outside can see that the server is sandboxed and that stdin
// and stdout carry the protocol unchanged both ways.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "inside", version: "1.0.0" });

server.registerTool("whoami", { description: "Where this server runs" }, async () => {
  const status = readFileSync("/proc/self/status", "utf8");
  const field = (name) => (status.match(new RegExp(`^${name}:\\s*(.*)$`, "m")) || [])[1];
  const interfaces = readFileSync("/proc/net/dev", "utf8").split("\n").slice(2)
    .map((line) => line.split(":")[0].trim()).filter(Boolean);
  const info = {
    uid: process.getuid(), hostname: hostname(), noNewPrivs: field("NoNewPrivs"),
    seccomp: field("Seccomp"), capEff: field("CapEff"), interfaces,
  };
  return { content: [{ type: "text", text: JSON.stringify(info) }] };
});

server.registerTool("echo", { description: "Returns its text", inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: "text", text }] }));

await server.connect(new StdioServerTransport());
