// The rest workflow against ccgw-sim (started by `cargo xtask test`, which sets CCGW_URL
// and NODE_EXTRA_CA_CERTS so TLS is verified against the simulator's CA).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Agent, GatewayError, isSetRestSuccess } from "./client.js";

const baseUrl = process.env["CCGW_URL"];
const agentId = Number(process.env["CCGW_TS_AGENT"] ?? "102");

test("sign in, rest, AgentState_SetRest_Success, cancel, sign out", { skip: baseUrl === undefined }, async () => {
  const agent = new Agent(baseUrl ?? "", agentId);
  const login = await agent.signIn({ password: `pw${agentId}`, phonenum: `40${agentId}`, status: 4 });
  assert.equal(login.result?.workno, String(agentId));

  await agent.rest(600, 3);
  const started = await agent.waitFor("AgentState_SetRest_Success");
  assert.ok(isSetRestSuccess(started));
  assert.equal(started.content.reason, "3");
  assert.equal((await agent.status())?.agentState, 8);

  await assert.rejects(agent.rest(600, 3, false), (e: unknown) => e instanceof GatewayError && e.retcode === "100-009");
  await agent.cancelRest();
  await agent.waitFor("AgentState_CancelRest_Success");
  assert.equal((await agent.status())?.agentState, 4);
  await agent.signOut();
  await assert.rejects(agent.status(), (e: unknown) => e instanceof GatewayError && e.retcode === "100-006");
});

test("the simulator is configured", () => {
  assert.ok(baseUrl !== undefined, "CCGW_URL must point at ccgw-sim (cargo xtask test sets it)");
});
