// A small CC-Gateway client written by "another team" against the types that
// openapi-typescript generates from openapi/ccgateway.yaml (src/generated/, not
// committed: it is generated from the spec on every test run).
import type { components, operations } from "./generated/ccgateway.js";

type Schemas = components["schemas"];
export type AgentEvent = Schemas["AgentEvent"];
/** An event that arrived (AgentEvent without NoEvent's `null`/`{}`). */
export type ArrivedEvent = Schemas["SetRestSuccessEvent"] | Schemas["RestTimeoutEvent"] | Schemas["CancelRestSuccessEvent"] | Schemas["GenericEvent"];
export type LoginRequest = Schemas["LoginRequest"];
type RestPath = operations["rest"]["parameters"]["path"];
type Ok<Op extends keyof operations> = operations[Op]["responses"][200]["content"]["application/json"];

const BASE = "/agentgateway/resource";
const JSON_UTF8 = "application/json; charset=UTF-8";

/** Whether a poll brought an event (the spec's NoEvent is `null`). */
export function isArrived(event: AgentEvent | null): event is ArrivedEvent {
  return event !== null && typeof event === "object" && "eventType" in event;
}

/** The rest events have schemas of their own; every other event is a GenericEvent. */
export function isSetRestSuccess(event: ArrivedEvent): event is Schemas["SetRestSuccessEvent"] {
  return event.eventType === "AgentState_SetRest_Success";
}

/** A failure the gateway reported with HTTP 200 and a return code. */
export class GatewayError extends Error {
  constructor(readonly operation: string, readonly retcode: string) {
    super(`${operation} refused: retcode ${retcode}`);
  }
}

export class Agent {
  private guid: string | undefined;

  constructor(readonly baseUrl: string, readonly agentId: number) {}

  /** Every answer may carry a rotated Guid in Set-GUID (dynamic authentication). */
  private takeGuid(response: Response): void {
    const setGuid = response.headers.get("set-guid");
    if (setGuid !== null && setGuid.startsWith("JSESSIONID=")) {
      this.guid = setGuid.slice("JSESSIONID=".length);
    }
  }

  private async call<Op extends keyof operations>(operation: Op, method: string, path: string, body?: unknown): Promise<Ok<Op>> {
    const headers: Record<string, string> = { "Content-Type": JSON_UTF8 };
    if (this.guid !== undefined) headers["Guid"] = this.guid;
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(`${this.baseUrl}${BASE}${path}`, init);
    this.takeGuid(response);
    if (response.status !== 200) throw new Error(`${operation}: HTTP ${response.status}`);
    const answer = (await response.json()) as Ok<Op>;
    if (answer.retcode !== "0") throw new GatewayError(operation, answer.retcode);
    return answer;
  }

  async signIn(request: LoginRequest): Promise<Ok<"login">> {
    const answer = await this.call("login", "PUT", `/onlineagent/${this.agentId}`, request);
    if (this.guid === undefined) throw new Error("sign-in gave no Set-GUID");
    return answer;
  }

  async rest(time: RestPath["time"], restcause: RestPath["restcause"], prolong = false): Promise<void> {
    await this.call("rest", "POST", `/onlineagent/${this.agentId}/rest/${time}/${restcause}?prolong=${prolong}`);
  }

  async cancelRest(): Promise<void> {
    await this.call("cancelRest", "POST", `/onlineagent/${this.agentId}/cancelrest`);
  }

  /** The agent's state: the vendor's sample sends an object, its table an array of one. */
  async status(): Promise<Schemas["AgentStatus"] | null | undefined> {
    const result = (await this.call("getAgentStatus", "GET", `/onlineagent/${this.agentId}/agentstatus`)).result;
    return Array.isArray(result) ? result[0] : result;
  }

  /** One long poll: an event, or null when none arrived while the gateway held it. */
  async poll(): Promise<AgentEvent | null> {
    return (await this.call("getAgentEvent", "GET", `/agentevent/${this.agentId}`)).event ?? null;
  }

  /** Polls until an event of `eventType` arrives (at most `polls` polls). */
  async waitFor(eventType: string, polls = 20): Promise<ArrivedEvent> {
    for (let i = 0; i < polls; i++) {
      const event = await this.poll();
      if (isArrived(event) && event.eventType === eventType) return event;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${eventType} did not arrive`);
  }

  async signOut(): Promise<void> {
    await this.call("logout", "DELETE", `/onlineagent/${this.agentId}/logout`);
  }
}
