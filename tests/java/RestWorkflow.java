// The rest workflow through a client generated from openapi/ccgateway.yaml by
// openapi-generator (java, native library), and nothing else: no hand-written HTTP, no
// Rust. Run by `cargo xtask java` (part of `cargo xtask test`) against the simulator over
// HTTPS with its CA trusted: CCGW_URL, CCGW_CA_FILE and CCGW_AGENT come from there.
// Exit status 0 when every step held; otherwise the first failed step is printed.

import java.io.FileInputStream;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import org.ccgw.client.ApiClient;
import org.ccgw.client.ApiResponse;
import org.ccgw.client.api.AgentStateApi;
import org.ccgw.client.api.EventsApi;
import org.ccgw.client.api.SessionApi;
import org.ccgw.client.model.EventResponse;
import org.ccgw.client.model.LoginRequest;
import org.ccgw.client.model.LoginResponse;
import org.ccgw.client.model.RestResponse;

public final class RestWorkflow {
    private static final int AGENT = Integer.parseInt(env("CCGW_AGENT"));

    private final ApiClient client = new ApiClient();
    private final SessionApi session;
    private final AgentStateApi state;
    private final EventsApi events;
    private volatile String guid;
    private int rotations;

    private RestWorkflow() throws Exception {
        client.updateBaseUri(env("CCGW_URL"));
        client.setHttpClientBuilder(HttpClient.newBuilder().sslContext(trusting(env("CCGW_CA_FILE"))));
        // The Guid goes in the `Guid` header of every call once the sign-in gave one.
        client.setRequestInterceptor(request -> {
            if (guid != null) {
                request.header("Guid", guid);
            }
        });
        session = new SessionApi(client);
        state = new AgentStateApi(client);
        events = new EventsApi(client);
    }

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException(name + " is not set (cargo xtask java sets it)");
        }
        return value;
    }

    /** TLS verified against the simulator's CA, as a Java team would trust a gateway's. */
    private static SSLContext trusting(String caFile) throws Exception {
        KeyStore roots = KeyStore.getInstance(KeyStore.getDefaultType());
        roots.load(null, null);
        try (InputStream in = new FileInputStream(caFile)) {
            int n = 0;
            for (Certificate ca : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                roots.setCertificateEntry("ca" + n++, ca);
            }
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(roots);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, trust.getTrustManagers(), null);
        return tls;
    }

    private static void check(boolean holds, String what) {
        if (!holds) {
            throw new AssertionError(what);
        }
    }

    /** Takes the Guid from `Set-GUID: JSESSIONID=<guid>` when an answer carries one. */
    private void takeGuid(ApiResponse<?> answer) {
        for (Map.Entry<String, List<String>> header : answer.getHeaders().entrySet()) {
            if (!header.getKey().equalsIgnoreCase("Set-GUID")) {
                continue;
            }
            for (String value : header.getValue()) {
                if (value.startsWith("JSESSIONID=")) {
                    String next = value.substring("JSESSIONID=".length());
                    if (guid != null && !guid.equals(next)) {
                        rotations++;
                    }
                    guid = next;
                }
            }
        }
    }

    private void signIn() throws Exception {
        LoginRequest body = new LoginRequest().password("pw" + AGENT).phonenum("40" + AGENT);
        ApiResponse<LoginResponse> answer = session.loginWithHttpInfo(AGENT, body);
        check("0".equals(answer.getData().getRetcode()), "sign-in: " + answer.getData());
        takeGuid(answer);
        check(guid != null, "the sign-in answer carried Set-GUID");
    }

    /** One poll: the event's type, or null when the gateway held the poll and none came. */
    private String poll() throws Exception {
        ApiResponse<EventResponse> answer = events.getAgentEventWithHttpInfo(AGENT, null);
        takeGuid(answer);
        check("0".equals(answer.getData().getRetcode()), "poll: " + answer.getData());
        if (answer.getData().getEvent() == null || answer.getData().getEvent().getActualInstance() == null) {
            return null;
        }
        Object event = answer.getData().getEvent().getActualInstance();
        // The rest events type `eventType` as an enum of one value, the others as a string.
        return String.valueOf(event.getClass().getMethod("getEventType").invoke(event));
    }

    private void waitFor(String eventType) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        List<String> seen = new ArrayList<>();
        while (System.nanoTime() < deadline) {
            String type = poll();
            if (type != null) {
                seen.add(type);
                if (type.equals(eventType)) {
                    return;
                }
            }
        }
        throw new AssertionError("no " + eventType + " within 10 s; saw " + seen);
    }

    /** The agent's state: `result` is an object, or an array of one (the page shows both). */
    private long agentState() throws Exception {
        Object result = state.getAgentStatus(AGENT).getResult();
        if (result instanceof List<?> list) {
            check(list.size() == 1, "one state in " + list);
            result = list.get(0);
        }
        check(result instanceof Map<?, ?>, "a state in " + result);
        return ((Number) ((Map<?, ?>) result).get("agentState")).longValue();
    }

    private String rest(long seconds, int cause, boolean prolong) throws Exception {
        RestResponse answer = state.rest(AGENT, seconds, cause, prolong);
        return answer.getRetcode();
    }

    private void run() throws Exception {
        signIn();
        try {
            check(rest(600, 3, false).equals("0"), "rest accepted");
            waitFor("AgentState_SetRest_Success");
            check(rest(600, 3, false).equals("100-009"), "a second rest without prolong is refused");
            check(rest(1, 4, true).equals("0"), "prolong accepted");
            waitFor("AgentState_Rest_Timeout");
            check(agentState() == 8, "in rest after the reminder");
            // Polling on across Guid rotations keeps the session.
            long deadline = System.nanoTime() + 4_500_000_000L;
            while (System.nanoTime() < deadline) {
                poll();
            }
            check(rotations >= 3, "saw " + rotations + " rotations");
            check("0".equals(state.cancelRest(AGENT).getRetcode()), "cancel accepted");
            waitFor("AgentState_CancelRest_Success");
            check(agentState() == 4, "idle after the cancel");
            // The vendor's current range goes to 999999: sent, and answered (not signed in).
            String far = state.rest(999_999, 600L, 3, false).getRetcode();
            check(far.equals("100-006"), "agent 999999 answered 100-006, not " + far);
        } finally {
            check("0".equals(session.logout(AGENT).getRetcode()), "signed out");
        }
        System.out.println("the rest workflow held through the generated Java client (" + rotations + " Guid rotations)");
    }

    public static void main(String[] args) throws Exception {
        new RestWorkflow().run();
    }
}
