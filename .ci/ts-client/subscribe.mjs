// SPDX-License-Identifier: Apache-2.0
// Subscribes to a container's state resource with the official MCP
// TypeScript SDK client, on the protocol it speaks (2025-11-25), where
// subscriptions are resources/subscribe and resources/unsubscribe on the
// session: the server declares subscribe, the subscriber is sent
// notifications/resources/updated for the URI when the container stops,
// reads the new state, and after unsubscribing is sent nothing more; a
// caller without container:read and a URI that sends no updates are
// refused and sent nothing. Changes the container with the docker CLI. Run by the Go test
// TestContainerSubscriptionsTypeScriptClient, which starts the server
// and dockerd; exits non-zero on any failure.
import { execFileSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

const [url, token, narrowToken, dockerHost, name] = process.argv.slice(2);
const uri = `tailops://containers/${name}/state`;
let failed = 0, passed = 0;
function check(cond, what) {
  if (cond) { passed++; console.log(`ok   ${what}`); }
  else { failed++; console.log(`FAIL ${what}`); }
}
const docker = (...args) => execFileSync("docker", ["-H", dockerHost, ...args], { stdio: "pipe" });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connect(tok) {
  const client = new Client({ name: "ts-sdk-subscriber", version: "1.0.0" });
  const updated = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri); });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${tok}` } },
  });
  await client.connect(transport);
  return { client, updated };
}

async function refused(client, u) {
  try { await client.subscribeResource({ uri: u }); return false; } catch (e) { return true; }
}

const { client, updated } = await connect(token);
check(client.transport?.protocolVersion === "2025-11-25", `negotiated protocol ${client.transport?.protocolVersion}`);
check(client.getServerCapabilities()?.resources?.subscribe === true, "the resources capability declares subscribe");
const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
check(templates.includes("tailops://containers/{id}/state"), "the state template is listed");
await client.subscribeResource({ uri });
check(await refused(client, "tailops://host/status"), "a resource that sends no updates is refused");

docker("stop", "-t", "1", name);
for (let i = 0; i < 150 && !updated.includes(uri); i++) await sleep(100);
check(updated.includes(uri), `notifications/resources/updated for ${uri} after docker stop (got ${JSON.stringify(updated)})`);
check(updated.every((u) => u === uri), "no update for any other URI");
const state = JSON.parse((await client.readResource({ uri })).contents[0].text);
check(state.name === name && state.state?.status === "exited" && state.state?.running === false && !("env" in state),
  `the state reads exited, and nothing but the state (${JSON.stringify(state)})`);

await client.unsubscribeResource({ uri });
const before = updated.length;
docker("start", name);
await sleep(1500);
check(updated.length === before, `nothing after unsubscribing (got ${JSON.stringify(updated.slice(before))})`);
await client.close();

const narrow = await connect(narrowToken);
check(await refused(narrow.client, uri), "a caller without container:read is refused");
docker("stop", "-t", "1", name);
await sleep(1500);
check(narrow.updated.length === 0, `the refused caller is sent nothing (got ${JSON.stringify(narrow.updated)})`);
await narrow.client.close();

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
