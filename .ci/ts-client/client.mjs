// SPDX-License-Identifier: Apache-2.0
// Drives a running tailops server with the official MCP TypeScript SDK:
// a readonly token lists and calls tools, lists and gets prompts and asks
// for completions; a narrower token sees fewer tools and prompts; a bad
// token is refused; with a file:read token, read_file (a high-risk tool,
// confirmed by default) asks the user through elicitation (protocol
// 2025-11-25): it runs when the user accepts, and is refused, with nothing
// read, when the user declines. Exits non-zero on any failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema, LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

const [url, readonlyToken, narrowToken, fileToken, fileToRead] = process.argv.slice(2);
let failed = 0, passed = 0;
function check(cond, what) {
  if (cond) { passed++; console.log(`ok   ${what}`); }
  else { failed++; console.log(`FAIL ${what}`); }
}

async function connect(token, options) {
  const client = new Client({ name: "ts-sdk-test", version: "1.0.0" }, options);
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

// Confirmation: the user at this client answers the server's question.
// Each call gets its answer (accept with confirm true, or decline), and
// the question asked is kept.
const answers = [];
const asked = [];
const confirming = await connect(fileToken, { capabilities: { elicitation: { form: {} } } });
confirming.setRequestHandler(ElicitRequestSchema, async (req) => {
  asked.push(req.params);
  return answers.shift() ?? { action: "decline" };
});
const negotiated = confirming.transport?.protocolVersion;
check(negotiated === "2025-11-25" && LATEST_PROTOCOL_VERSION === negotiated,
  `the confirming client negotiated protocol ${negotiated} (the SDK's latest: ${LATEST_PROTOCOL_VERSION})`);
// Listing the tools first makes the SDK check each structured result
// against its tool's output schema: read_file's content is only in its
// text, and its structured result must still fit the schema.
const fileTools = (await confirming.listTools()).tools;
check(fileTools.some((t) => t.name === "read_file" && t.outputSchema && !("content" in (t.outputSchema.properties ?? {}))),
  "read_file is listed with an output schema that has no content (the content is its text)");
answers.push({ action: "accept", content: { confirm: true } });
const yes = await confirming.callTool({ name: "read_file", arguments: { path: fileToRead } });
check(!yes.isError && yes.content[0].type === "text" && yes.content[0].text.includes("hello from the ts client")
  && yes.structuredContent?.eof === true && !("content" in yes.structuredContent)
  && asked.length === 1 && asked[0].message.includes("read_file") && asked[0].requestedSchema?.properties?.confirm?.type === "boolean",
  "read_file asks the user (the question names the tool, one boolean confirm) and runs on accept");
answers.push({ action: "decline" });
const no = await confirming.callTool({ name: "read_file", arguments: { path: fileToRead } });
check(no.isError && no.content[0].text.includes("did not confirm") && !JSON.stringify(no).includes("hello from the ts client") && asked.length === 2,
  "read_file is refused, with nothing read, when the user declines");
await confirming.close();

let unauthorized = false;
try { await connect("not-a-token"); } catch (e) { unauthorized = true; }
check(unauthorized, "a bad token cannot connect");

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
