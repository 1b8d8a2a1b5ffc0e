"""The rest workflow through a client generated from openapi/ccgateway.yaml by
openapi-generator (python), and nothing else: no hand-written HTTP, no Rust.

Run by `cargo xtask python` (part of `cargo xtask test`) against the simulator over
HTTPS with its CA trusted: CCGW_URL, CCGW_CA_FILE and CCGW_AGENT come from there.
"""

import os
import re
import time

import pydantic
import pytest

import ccgateway_client
from ccgateway_client.api.agent_state_api import AgentStateApi
from ccgateway_client.api.events_api import EventsApi
from ccgateway_client.api.session_api import SessionApi
from ccgateway_client.models.login_request import LoginRequest

AGENT = int(os.environ.get("CCGW_AGENT", "103"))
# How long to keep polling to see the Guid rotate several times (the simulator rotates
# it every second for this run).
ROTATIONS_WINDOW = 4.5


def documented_guid_header():
    """The response header that carries the new Guid on `login`'s answer, as the
    generated client's documentation lists it (from the spec's `headers`): the test
    relies on the spec saying so, as a Python team reading it would."""
    with open(os.environ["CCGW_CLIENT_DOCS"], encoding="utf-8") as docs:
        text = docs.read()
    login = text.split("# **login**", 1)[1].split("\n# **", 1)[0]
    for row in login.splitlines():
        if row.startswith("**200**"):
            cells = row.split("|")
            names = re.findall(r"\* ([A-Za-z0-9-]+) -", cells[2] if len(cells) > 2 else "")
            assert len(names) == 1, f"login's answer documents the headers {names}, not one"
            return names[0]
    pytest.fail("the generated docs list no 200 answer for login")


GUID_HEADER = documented_guid_header()


class Agent:
    """One session: the generated APIs, and the Guid taken from every Set-GUID."""

    def __init__(self):
        self.config = ccgateway_client.Configuration(host=os.environ["CCGW_URL"])
        self.config.ssl_ca_cert = os.environ["CCGW_CA_FILE"]
        self.client = ccgateway_client.ApiClient(self.config)
        self.session = SessionApi(self.client)
        self.state = AgentStateApi(self.client)
        self.events = EventsApi(self.client)
        self.rotations = 0

    def take_guid(self, headers):
        found = {k.lower(): v for k, v in (headers or {}).items()}
        value = found.get(GUID_HEADER.lower())
        if value and value.startswith("JSESSIONID="):
            guid = value[len("JSESSIONID="):]
            if self.config.api_key.get("guid") not in (None, guid):
                self.rotations += 1
            self.config.api_key["guid"] = guid

    def sign_in(self):
        answer = self.session.login_with_http_info(AGENT, LoginRequest(password=f"pw{AGENT}", phonenum=f"40{AGENT}"))
        assert answer.data.retcode == "0", answer.data
        self.take_guid(answer.headers)
        assert "guid" in self.config.api_key, f"the sign-in answer carried {GUID_HEADER}"

    def poll(self):
        answer = self.events.get_agent_event_with_http_info(AGENT)
        self.take_guid(answer.headers)
        assert answer.data.retcode == "0", answer.data
        return answer.data.event

    def wait_for(self, event_type, within=10.0):
        deadline = time.monotonic() + within
        seen = []
        while time.monotonic() < deadline:
            event = self.poll()
            if event is not None:
                kind = event.actual_instance.event_type
                seen.append(kind)
                if kind == event_type:
                    return event
        pytest.fail(f"no {event_type} within {within}s; saw {seen}")


@pytest.fixture
def agent():
    a = Agent()
    a.sign_in()
    yield a
    a.session.logout(AGENT)


def test_the_rest_workflow(agent):
    assert agent.state.rest(AGENT, 600, 3, prolong=False).retcode == "0"
    agent.wait_for("AgentState_SetRest_Success")
    # A second rest without prolong is refused while in rest.
    again = agent.state.rest(AGENT, 600, 3, prolong=False)
    assert again.retcode == "100-009", again
    # Prolonged for a second: the rest-timeout reminder follows.
    assert agent.state.rest(AGENT, 1, 4, prolong=True).retcode == "0"
    agent.wait_for("AgentState_Rest_Timeout")
    status = agent.state.get_agent_status(AGENT)
    # `result` is an object or a one-element list (the vendor's page shows both).
    assert status.retcode == "0" and status.result.actual_instance.agent_state == 8, status
    # Polling on across several Guid rotations keeps the session.
    deadline = time.monotonic() + ROTATIONS_WINDOW
    while time.monotonic() < deadline:
        agent.poll()
    assert agent.rotations >= 3, f"saw {agent.rotations} rotations"
    assert agent.state.cancel_rest(AGENT).retcode == "0"
    agent.wait_for("AgentState_CancelRest_Success")


@pytest.mark.parametrize(
    "time_s, cause",
    [(0, 3), (86400, 3), (600, -1), (600, 256)],
)
def test_out_of_range_values_are_rejected_before_sending(agent, time_s, cause):
    with pytest.raises(pydantic.ValidationError):
        agent.state.rest(AGENT, time_s, cause, prolong=False)


def test_an_agent_id_out_of_range_is_rejected_before_sending(agent):
    for agent_id in (100, 1000000):
        with pytest.raises(pydantic.ValidationError):
            agent.state.rest(agent_id, 600, 3, prolong=False)
    # The vendor's current range goes to 999999: sent, and answered (not signed in).
    assert agent.state.rest(999999, 600, 3, prolong=False).retcode == "100-006"


def test_the_phone_number_is_required():
    with pytest.raises(pydantic.ValidationError):
        LoginRequest(password=f"pw{AGENT}")
