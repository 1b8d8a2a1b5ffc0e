//! The spec as other teams read it: what `openapi/ccgateway.yaml` promises about rest,
//! pinned, and every response example parsed by the generated client's types.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

fn spec() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/ccgateway.yaml");
    let text = std::fs::read_to_string(&path).expect("spec readable");
    serde_yaml_ng::from_str(&text).expect("spec is YAML")
}

const REST_PATH: &str = "/agentgateway/resource/onlineagent/{agentid}/rest/{time}/{restcause}";

fn rest_op(spec: &Value) -> &Value {
    &spec["paths"][REST_PATH]["post"]
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str() {
        Some(r) => spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} does not resolve")),
        None => node,
    }
}

fn params<'a>(spec: &'a Value, op: &'a Value) -> Vec<&'a Value> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(spec, p))
        .collect()
}

fn param<'a>(spec: &'a Value, op: &'a Value, name: &str) -> &'a Value {
    params(spec, op)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("parameter {name} missing"))
}

#[test]
fn version_and_server() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.0.3");
    let server = &spec["servers"][0];
    assert_eq!(server["url"], "https://{host}:{port}");
    assert_eq!(server["variables"]["port"]["default"], "8043");
}

#[test]
fn rest_operation_and_parameter_ranges() {
    let spec = spec();
    let op = rest_op(&spec);
    assert_eq!(op["operationId"], "rest");
    // The values of the bounds are the spec's to decide (`cargo xtask gen` carries a
    // change into the client); what every team relies on is that they are stated.
    for name in ["agentid", "time", "restcause"] {
        let p = param(&spec, op, name);
        assert_eq!(p["in"], "path", "{name}");
        assert_eq!(p["required"], true, "{name}");
        assert_eq!(p["schema"]["type"], "integer", "{name}");
        let (min, max) = (
            p["schema"]["minimum"].as_i64(),
            p["schema"]["maximum"].as_i64(),
        );
        assert!(
            matches!((min, max), (Some(lo), Some(hi)) if lo <= hi),
            "{name}: {min:?}..={max:?}"
        );
        assert!(
            p["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}"
        );
    }
    let prolong = param(&spec, op, "prolong");
    assert_eq!(prolong["in"], "query");
    assert_eq!(
        prolong["schema"],
        json!({"type": "boolean", "default": false})
    );
    assert!(
        prolong["description"]
            .as_str()
            .is_some_and(|d| d.contains("already"))
    );
    // Content-Type is documented, never a parameter (generators would make it an argument).
    let names: Vec<&str> = params(&spec, op)
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["agentid", "time", "restcause", "prolong"]);
    assert_eq!(
        op["x-ccgw-request-headers"]["Content-Type"],
        "application/json; charset=UTF-8"
    );
    assert!(
        op["description"]
            .as_str()
            .is_some_and(|d| d.contains("application/json; charset=UTF-8"))
    );
}

#[test]
fn guid_is_an_api_key_header_required_everywhere() {
    let spec = spec();
    assert_eq!(
        spec["components"]["securitySchemes"]["guid"]
            .as_object()
            .map(|o| (o["type"].clone(), o["in"].clone(), o["name"].clone())),
        Some((json!("apiKey"), json!("header"), json!("Guid")))
    );
    assert_eq!(spec["security"], json!([{"guid": []}]));
    let how = spec["components"]["securitySchemes"]["guid"]["description"]
        .as_str()
        .unwrap_or_default();
    for needle in ["AUTHMODE=1", "AUTHMODE=2", "Set-GUID", "JSESSIONID="] {
        assert!(
            how.contains(needle),
            "Guid description must explain {needle}"
        );
    }
}

#[test]
fn retcodes_are_machine_readable_and_each_has_an_example() {
    let spec = spec();
    let op = rest_op(&spec);
    let codes: BTreeSet<&str> = op["x-ccgw-retcodes"]
        .as_array()
        .expect("x-ccgw-retcodes is a list")
        .iter()
        .map(|c| {
            assert!(
                c["name"].is_string()
                    && c["meaning"].is_string()
                    && c["sign-in-again"].is_boolean(),
                "{c}"
            );
            c["code"].as_str().expect("code is a string")
        })
        .collect();
    assert_eq!(
        codes,
        BTreeSet::from(["0", "000-002", "000-003", "100-006", "100-007", "100-009"])
    );
    let sign_in_again: BTreeSet<&str> = op["x-ccgw-retcodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["sign-in-again"] == true)
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert_eq!(sign_in_again, BTreeSet::from(["000-003", "100-006"]));

    let examples = op["responses"]["200"]["content"]["application/json"]["examples"]
        .as_object()
        .expect("examples");
    let example_codes: BTreeSet<&str> = examples
        .values()
        .filter_map(|e| e["value"]["retcode"].as_str())
        .collect();
    assert_eq!(example_codes, codes, "every documented code has an example");
    // Prose lists the same codes.
    let prose = op["description"].as_str().unwrap_or_default();
    for code in &codes {
        assert!(
            prose.contains(&format!("`{code}`")),
            "description must explain {code}"
        );
    }
}

#[test]
fn events_are_documented() {
    let spec = spec();
    let events: Vec<&str> = rest_op(&spec)["x-ccgw-events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect();
    // `AgentState_Ready` only where the tenant ends rest at its timeout (a *Choice*).
    assert_eq!(
        events,
        [
            "AgentState_SetRest_Success",
            "AgentState_Rest_Timeout",
            "AgentState_Ready"
        ]
    );
}

/// Every return code the spec lists for any operation is one `ccgw` knows by name, with
/// the disposition the spec's `sign-in-again` implies: the spec and the code's table
/// cannot drift apart.
#[test]
fn every_listed_code_is_known_to_the_client() {
    let spec = spec();
    let mut listed = BTreeSet::new();
    for item in spec["paths"].as_object().expect("paths").values() {
        for (verb, op) in item.as_object().expect("path item") {
            for code in op["x-ccgw-retcodes"].as_array().into_iter().flatten() {
                let text = code["code"].as_str().expect("code is a string");
                let known = ccgw::RetCode::parse(text);
                assert!(
                    !matches!(known, ccgw::RetCode::Other(_)),
                    "{verb} {}: {text} is listed in the spec but unknown to ccgw::RetCode",
                    op["operationId"]
                );
                if code["sign-in-again"] == true {
                    assert!(
                        matches!(
                            known.disposition(),
                            Some(ccgw::Disposition::SignInAgain | ccgw::Disposition::TakeOver)
                        ),
                        "{text}: the spec says sign in again, ccgw says {:?}",
                        known.disposition()
                    );
                }
                listed.insert(text.to_owned());
            }
        }
    }
    // The codes the vendor's current pages name for sign-in and sign-out are listed.
    for code in [
        "100-003", "100-012", "100-013", "100-014", "100-015", "100-016", "110-016", "100-005",
        "100-007", "100-008",
    ] {
        assert!(
            listed.contains(code),
            "{code} is not listed by any operation"
        );
    }
}

/// The agent-status answer's `result` as the vendor's sample (an object) and as its
/// table types it (an array holding one) both parse with the generated types.
#[test]
fn agent_status_result_parses_in_both_shapes() {
    use ccgw_client::types::{AgentStatusResponse, AgentStatusResponseResult};
    let spec = spec();
    let op = &spec["paths"]["/agentgateway/resource/onlineagent/{agentid}/agentstatus"]["get"];
    let examples = op["responses"]["200"]["content"]["application/json"]["examples"]
        .as_object()
        .expect("examples");
    let mut shapes = BTreeSet::new();
    for (name, example) in examples {
        let parsed: AgentStatusResponse = serde_json::from_value(example["value"].clone())
            .unwrap_or_else(|e| panic!("example {name}: {e}"));
        let status = match parsed.result.expect("a result") {
            AgentStatusResponseResult::Variant0(status) => {
                shapes.insert("object");
                status
            }
            AgentStatusResponseResult::Variant1(list) => {
                shapes.insert("array");
                let [status] = list.0;
                status
            }
        };
        assert_eq!(status.0.and_then(|s| s.agent_state), Some(8), "{name}");
    }
    assert_eq!(shapes, BTreeSet::from(["array", "object"]));
}

/// Every response example parses with the generated client's envelope type, whatever
/// shape `result` takes (`{}`, null, `""`, absent).
#[test]
fn every_example_parses_with_the_generated_types() {
    let spec = spec();
    let examples = rest_op(&spec)["responses"]["200"]["content"]["application/json"]["examples"]
        .as_object()
        .expect("examples");
    let mut result_shapes = BTreeSet::new();
    for (name, example) in examples {
        let value = &example["value"];
        let parsed: ccgw_client::types::RestResponse =
            serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("example {name}: {e}"));
        assert_eq!(
            Some(parsed.retcode.as_str()),
            value["retcode"].as_str(),
            "{name}"
        );
        result_shapes.insert(match value.get("result") {
            None => "absent",
            Some(Value::Null) => "null",
            Some(Value::String(s)) if s.is_empty() => "empty string",
            Some(Value::Object(o)) if o.is_empty() => "empty object",
            Some(other) => panic!("example {name}: unexpected result {other}"),
        });
    }
    assert_eq!(
        result_shapes,
        BTreeSet::from(["absent", "null", "empty string", "empty object"]),
        "the examples show every result shape gateways send"
    );
}

/// The simulator's operation names are generated from the spec (`cargo xtask gen`, no
/// code shared with the client); a stale file would let `SimHandle::inject` name a ghost.
#[test]
fn the_simulator_serves_exactly_the_spec_s_operations() {
    let spec: serde_json::Value =
        serde_yaml_ng::from_str(include_str!("../../openapi/ccgateway.yaml")).expect("spec");
    let mut in_spec: Vec<String> = spec["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().into_iter().flat_map(|ops| ops.values()))
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    let mut served: Vec<String> = ccgw_sim::operation::ALL
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    in_spec.sort();
    served.sort();
    assert_eq!(served, in_spec);
}
