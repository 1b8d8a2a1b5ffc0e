//! The spec-compatibility rules of `cargo xtask gen --check`, each shown firing on a
//! fixture pair: the released spec (`openapi/released/1.3.0.yaml`) and a copy changed
//! in one place.

use serde_json::{Value, json};
use xtask::compat::{changes, check};

const REST: &str = "/agentgateway/resource/onlineagent/{agentid}/rest/{time}/{restcause}";
const LOGIN: &str = "/agentgateway/resource/onlineagent/{agentid}";

fn released() -> Value {
    let root = xtask::workspace_root();
    let text =
        std::fs::read_to_string(root.join("openapi/released/1.3.0.yaml")).expect("released spec");
    serde_yaml_ng::from_str(&text).expect("YAML")
}

/// The released spec changed by `edit`.
fn changed(edit: impl FnOnce(&mut Value)) -> Value {
    let mut spec = released();
    edit(&mut spec);
    spec
}

fn rest_param<'a>(spec: &'a mut Value, name: &str) -> &'a mut Value {
    spec["paths"][REST]["post"]["parameters"]
        .as_array_mut()
        .expect("parameters")
        .iter_mut()
        .find(|p| p["name"] == name)
        .expect("the parameter")
}

/// The only change between the released spec and `spec`: whether it breaks, and what.
fn one_change(spec: &Value) -> (bool, String) {
    let all = changes(&released(), spec);
    assert_eq!(all.len(), 1, "{all:#?}");
    (all[0].breaking, all[0].what.clone())
}

#[test]
fn the_released_spec_has_no_change_against_itself() {
    assert!(changes(&released(), &released()).is_empty());
}

#[test]
fn narrowing_times_maximum_without_a_major_version_fails_naming_the_parameter_ranges_and_version() {
    let spec = changed(|s| rest_param(s, "time")["schema"]["maximum"] = json!(3600));
    let err = check(&released(), "1.3.0", &spec, "1.4.0", "").expect_err("breaking");
    assert!(
        err.contains("parameter `time`: range narrowed from 1..=86399 to 1..=3600"),
        "{err}"
    );
    assert!(err.contains("must be 2.0.0"), "{err}");
    // With a major version whose changelog says why, it passes.
    let ok = check(
        &released(),
        "1.3.0",
        &spec,
        "2.0.0",
        "- **Breaking**: rests last an hour at most",
    );
    assert!(ok.is_ok(), "{ok:?}");
    // A major version whose changelog does not say so fails too.
    let err =
        check(&released(), "1.3.0", &spec, "2.0.0", "- shorter rests").expect_err("no reason");
    assert!(err.contains("does not say `Breaking`"), "{err}");
}

#[test]
fn an_optional_response_field_added_passes_with_a_minor_version_only() {
    let spec = changed(|s| {
        s["components"]["schemas"]["RestResponse"]["properties"]["traceId"] =
            json!({"type": "string"});
    });
    assert!(!one_change(&spec).0, "additive");
    assert!(check(&released(), "1.3.0", &spec, "1.4.0", "").is_ok());
    let err = check(&released(), "1.3.0", &spec, "1.3.1", "").expect_err("needs a minor version");
    assert!(
        err.contains("need a new minor version (1.4.0 or higher"),
        "{err}"
    );
}

#[test]
fn an_operation_removed_breaks() {
    let spec = changed(|s| {
        s["paths"].as_object_mut().expect("paths").remove(REST);
    });
    let (breaking, what) = one_change(&spec);
    assert!(breaking && what.ends_with("operation removed"), "{what}");
}

#[test]
fn an_operation_added_is_additive() {
    let spec = changed(|s| s["paths"]["/extra"] = json!({"get": {"responses": {}}}));
    assert_eq!(
        one_change(&spec),
        (false, "GET /extra: operation added".to_owned())
    );
}

#[test]
fn a_parameter_removed_breaks() {
    let spec = changed(|s| {
        s["paths"][REST]["post"]["parameters"]
            .as_array_mut()
            .expect("parameters")
            .retain(|p| p["name"] != "prolong");
    });
    let (breaking, what) = one_change(&spec);
    assert!(
        breaking && what.contains("parameter `prolong`: removed"),
        "{what}"
    );
}

#[test]
fn a_parameter_made_required_breaks() {
    let spec = changed(|s| rest_param(s, "prolong")["required"] = json!(true));
    let (breaking, what) = one_change(&spec);
    assert!(
        breaking && what.contains("parameter `prolong`: made required"),
        "{what}"
    );
}

#[test]
fn a_required_parameter_added_breaks_an_optional_one_does_not() {
    let add = |required: bool| {
        changed(|s| {
            s["paths"][REST]["post"]["parameters"]
                .as_array_mut()
                .expect("parameters")
                .push(json!({"name": "note", "in": "query", "required": required, "schema": {"type": "string"}}));
        })
    };
    assert!(one_change(&add(true)).0);
    assert!(!one_change(&add(false)).0);
}

#[test]
fn a_type_changed_breaks() {
    let spec = changed(|s| rest_param(s, "restcause")["schema"]["type"] = json!("string"));
    let (breaking, what) = one_change(&spec);
    assert!(
        breaking && what.contains("type changed from \"integer\" to \"string\""),
        "{what}"
    );
}

#[test]
fn a_request_range_widened_is_additive() {
    let spec = changed(|s| rest_param(s, "restcause")["schema"]["maximum"] = json!(999));
    assert!(!one_change(&spec).0);
}

#[test]
fn a_request_field_made_required_breaks() {
    let spec = changed(|s| {
        s["components"]["schemas"]["LoginRequest"]["required"]
            .as_array_mut()
            .expect("required")
            .push(json!("phonenum"));
    });
    // login and forceLogin share the body.
    let all = changes(&released(), &spec);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all.iter().all(|c| c.breaking
            && c.what
                .contains("request body field `phonenum`: made required")),
        "{all:#?}"
    );
    assert!(
        all[0]
            .what
            .starts_with(&format!("PUT {LOGIN} request body")),
        "{all:#?}"
    );
}

#[test]
fn a_response_field_removed_breaks() {
    let spec = changed(|s| {
        s["components"]["schemas"]["RestResponse"]["properties"]
            .as_object_mut()
            .expect("properties")
            .remove("message");
    });
    let (breaking, what) = one_change(&spec);
    assert!(
        breaking && what.contains("answer field `message`: removed"),
        "{what}"
    );
}

#[test]
fn an_enum_value_removed_breaks_one_added_does_not() {
    let with_enum =
        |values: Value| changed(|s| rest_param(s, "restcause")["schema"]["enum"] = values);
    let base = with_enum(json!([0, 1, 2]));
    let fewer = with_enum(json!([0, 1]));
    let more = with_enum(json!([0, 1, 2, 3]));
    let removed = changes(&base, &fewer);
    assert!(
        removed.len() == 1 && removed[0].breaking && removed[0].what.contains("value 2 removed"),
        "{removed:?}"
    );
    let added = changes(&base, &more);
    assert!(added.len() == 1 && !added[0].breaking, "{added:?}");
}

#[test]
fn a_response_field_no_longer_always_present_breaks() {
    let spec = changed(|s| {
        s["components"]["schemas"]["RestResponse"]["required"]
            .as_array_mut()
            .expect("required")
            .retain(|n| n != "retcode");
    });
    let (breaking, what) = one_change(&spec);
    assert!(
        breaking && what.contains("answer field `retcode`: no longer always present"),
        "{what}"
    );
}

#[test]
fn a_response_range_widened_breaks_one_narrowed_does_not() {
    let with_range = |max: u32| {
        changed(|s| {
            s["components"]["schemas"]["RestResponse"]["properties"]["attempt"] =
                json!({"type": "integer", "minimum": 0, "maximum": max});
        })
    };
    let wider = changes(&with_range(10), &with_range(20));
    assert!(
        wider.len() == 1
            && wider[0].breaking
            && wider[0]
                .what
                .contains("range widened from 0..=10 to 0..=20"),
        "{wider:?}"
    );
    let narrower = changes(&with_range(10), &with_range(5));
    assert!(narrower.len() == 1 && !narrower[0].breaking, "{narrower:?}");
}

#[test]
fn the_guid_header_dropped_from_the_sign_in_answer_breaks() {
    let spec = changed(|s| {
        s["paths"][LOGIN]["put"]["responses"]["200"]
            .as_object_mut()
            .expect("the 200 answer")
            .remove("headers");
    });
    let (breaking, what) = one_change(&spec);
    assert!(
        breaking && what == format!("PUT {LOGIN} answer header `Set-GUID`: removed"),
        "{what}"
    );
}
