// SPDX-License-Identifier: Apache-2.0
// Drives a running tailops server with the official MCP TypeScript SDK:
// a readonly token lists and calls tools, lists and gets prompts and asks
// for completions; a narrower token sees fewer tools and prompts; a bad
// token is refused. Exits non-zero on any failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, readonlyToken, narrowToken] = process.argv.slice(2);
let failed = 0, passed = 0;
function check(cond, what) {
  if (cond) { passed++; console.log(`ok   ${what}`); }
  else { failed++; console.log(`FAIL ${what}`); }
}

async function connect(token) {
  const client = new Client({ name: "ts-sdk-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

const ro = await connect(readonlyToken);
const { tools } = await ro.listTools();
const names = tools.map((t) => t.name).sort();
check(names.includes("health_check") && names.includes("get_system_status"), `readonly sees ${names.length} tools`);
check(tools.every((t) => t.annotations && t.annotations.readOnlyHint !== undefined && t.outputSchema), "every tool has annotations and an output schema");
const health = await ro.callTool({ name: "health_check", arguments: {} });
check(!health.isError && health.structuredContent?.status === "ok", "health_check answers ok");
const status = await ro.callTool({ name: "get_system_status", arguments: {} });
check(!status.isError && typeof status.structuredContent?.hostname === "string" && status.structuredContent.memory.total > 0,
  "get_system_status returns structured content");
const bad = await ro.callTool({ name: "get_top_processes", arguments: { limit: "many" } });
check(bad.isError && bad.content[0].text.includes('"limit"'), "an invalid argument is a tool error naming it");
const prompts = (await ro.listPrompts()).prompts.map((p) => p.name);
check(prompts.includes("setup_inventory") && prompts.includes("health_check") && !prompts.includes("update_everything"),
  `readonly sees the prompts whose tools it may call (${prompts.join(", ")})`);
const plan = await ro.getPrompt({ name: "setup_inventory", arguments: {} });
check(plan.messages[0].content.text.includes("get_inventory"), "a prompt's plan names its tools");
const done = await ro.complete({ ref: { type: "ref/prompt", name: "investigate_high_usage" }, argument: { name: "resource", value: "c" } });
check(Array.isArray(done.completion.values) && done.completion.values.length === 0, "completion answers (an argument it does not complete: no values)");
await ro.close();

const narrow = await connect(narrowToken);
const narrowNames = (await narrow.listTools()).tools.map((t) => t.name);
check(!narrowNames.includes("get_system_status") && narrowNames.includes("get_network_status"), "network:read sees only its tools");
let refused = false;
try { await narrow.callTool({ name: "get_system_status", arguments: {} }); } catch (e) { refused = true; }
check(refused, "a call outside the token's scopes is refused");
const narrowPrompts = (await narrow.listPrompts()).prompts.map((p) => p.name);
check(!narrowPrompts.includes("setup_inventory"), "network:read sees no prompt that needs system:read");
await narrow.close();

let unauthorized = false;
try { await connect("not-a-token"); } catch (e) { unauthorized = true; }
check(unauthorized, "a bad token cannot connect");

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
