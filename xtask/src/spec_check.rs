//! Checks run on the spec before progenitor sees it.
//!
//! progenitor 0.15 panics (`assert!`, `unwrap`, `unimplemented!`) on some malformed
//! specs and silently mis-generates others. These checks turn each such case into a
//! message that names the place in the spec, e.g.
//! `paths./a/{id}.post.parameters[0] (id): path parameter must have "required: true"`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

/// One problem found in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a dotted path into the document, e.g. `paths./x.post.operationId`.
    pub location: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Header names OpenAPI 3.0 says to ignore as parameters; progenitor would turn them
/// into method arguments instead.
const RESERVED_HEADERS: [&str; 3] = ["accept", "content-type", "authorization"];

/// Checks a parsed spec document; returns every problem found (empty when fine).
pub fn check_spec(doc: &Value) -> Vec<Problem> {
    let mut out = Checker::default();
    out.version(doc);
    match doc.get("paths") {
        Some(Value::Object(paths)) => {
            let mut operation_ids = BTreeMap::<String, String>::new();
            for (path, item) in paths {
                out.path_item(doc, path, item, &mut operation_ids);
            }
        }
        Some(_) => out.push("paths", "must be a mapping of path templates to path items"),
        None => out.push("paths", "missing: the spec defines no operations"),
    }
    out.refs(doc, doc, "");
    out.problems
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn push(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            location: location.into(),
            message: message.into(),
        });
    }

    fn version(&mut self, doc: &Value) {
        match doc.get("openapi").and_then(Value::as_str) {
            Some(v) if is_openapi_30(v) => {}
            Some(v) => self.push(
                "openapi",
                format!("version {v:?} is not supported: progenitor reads OpenAPI 3.0.x only (write 3.0.3)"),
            ),
            None => self.push("openapi", "missing or not a string: write `openapi: 3.0.3`"),
        }
    }

    fn path_item(
        &mut self,
        doc: &Value,
        path: &str,
        item: &Value,
        operation_ids: &mut BTreeMap<String, String>,
    ) {
        let here = format!("paths.{path}");
        if !path.starts_with('/') {
            self.push(&here, "path templates must start with '/'");
        }
        let Some(item) = item.as_object() else {
            self.push(&here, "must be a path item mapping");
            return;
        };
        if item.contains_key("$ref") {
            self.push(
                &here,
                "path items given by $ref are not supported by progenitor; inline them",
            );
            return;
        }
        let template = match template_params(path) {
            Ok(t) => t,
            Err(msg) => {
                self.push(&here, msg);
                return;
            }
        };
        let shared = item.get("parameters");
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let loc = format!("{here}.{method}");
            self.operation_id(op, &loc, operation_ids);
            let mut path_params = BTreeSet::new();
            if let Some(params) = shared {
                self.parameters(
                    doc,
                    params,
                    &format!("{here}.parameters"),
                    &template,
                    &mut path_params,
                );
            }
            if let Some(params) = op.get("parameters") {
                self.parameters(
                    doc,
                    params,
                    &format!("{loc}.parameters"),
                    &template,
                    &mut path_params,
                );
            }
            for name in template.difference(&path_params) {
                self.push(
                    &loc,
                    format!(
                        "path template names {{{name}}} but no path parameter {name:?} is declared"
                    ),
                );
            }
            self.responses(op, &loc);
        }
    }

    fn operation_id(&mut self, op: &Value, loc: &str, seen: &mut BTreeMap<String, String>) {
        let here = format!("{loc}.operationId");
        match op.get("operationId").and_then(Value::as_str) {
            None => self.push(here, "missing: every operation needs an operationId (it names the client method)"),
            Some(id) if !is_identifier(id) => self.push(
                here,
                format!("{id:?} must start with a letter or '_' and contain only letters, digits and '_'"),
            ),
            Some(id) => {
                if let Some(first) = seen.insert(id.to_owned(), loc.to_owned()) {
                    self.push(here, format!("{id:?} is already used by {first}; operationIds must be unique"));
                }
            }
        }
    }

    fn parameters(
        &mut self,
        doc: &Value,
        params: &Value,
        loc: &str,
        template: &BTreeSet<String>,
        path_params: &mut BTreeSet<String>,
    ) {
        let Some(params) = params.as_array() else {
            self.push(loc, "must be a list of parameters");
            return;
        };
        for (i, param) in params.iter().enumerate() {
            let here = format!("{loc}[{i}]");
            let param = match resolve(doc, param) {
                Ok(p) => p,
                Err(msg) => {
                    self.push(here, msg);
                    continue;
                }
            };
            let Some(name) = param.get("name").and_then(Value::as_str) else {
                self.push(here, "missing `name`");
                continue;
            };
            let here = format!("{here} ({name})");
            let location = param.get("in").and_then(Value::as_str);
            if param.get("schema").is_none() {
                self.push(
                    &here,
                    "missing `schema`: progenitor needs a schema for every parameter",
                );
            }
            match location {
                Some("path") => {
                    path_params.insert(name.to_owned());
                    if param.get("required") != Some(&Value::Bool(true)) {
                        self.push(&here, "path parameter must have `required: true` (OpenAPI requires it; progenitor panics without it)");
                    }
                    if !template.contains(name) {
                        self.push(
                            &here,
                            format!("path parameter {name:?} does not appear in the path template"),
                        );
                    }
                }
                Some("query") => {}
                Some("header") => {
                    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                        self.push(
                            &here,
                            format!("header {name:?} must not be a parameter (OpenAPI ignores it; progenitor would make it a method argument): describe it in prose; the client sets it"),
                        );
                    }
                }
                Some("cookie") => {
                    self.push(&here, "cookie parameters are not supported by progenitor")
                }
                Some(other) => self.push(&here, format!("unknown parameter location {other:?}")),
                None => self.push(&here, "missing `in`"),
            }
        }
    }

    fn responses(&mut self, op: &Value, loc: &str) {
        let here = format!("{loc}.responses");
        match op.get("responses").and_then(Value::as_object) {
            None => self.push(here, "missing: every operation needs its responses"),
            Some(responses) => {
                if responses.contains_key("default") {
                    self.push(
                        format!("{here}.default"),
                        "a `default` response makes progenitor emit unreachable match arms (warnings); list the status codes instead",
                    );
                }
                if !responses.keys().any(|k| k.starts_with('2')) {
                    self.push(
                        here,
                        "no 2xx response: the client would have no success type",
                    );
                }
            }
        }
    }

    /// Every local `$ref` must resolve; remote refs are not supported.
    fn refs(&mut self, doc: &Value, node: &Value, loc: &str) {
        match node {
            Value::Object(map) => {
                for (k, v) in map {
                    let here = if loc.is_empty() {
                        k.clone()
                    } else {
                        format!("{loc}.{k}")
                    };
                    if k == "$ref" {
                        if let Err(msg) = resolve(doc, node) {
                            self.push(here, msg);
                        }
                    } else {
                        self.refs(doc, v, &here);
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.refs(doc, v, &format!("{loc}[{i}]"));
                }
            }
            _ => {}
        }
    }
}

fn is_openapi_30(v: &str) -> bool {
    v.strip_prefix("3.0.")
        .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `{names}` of a path template.
fn template_params(path: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in path template {path:?}"))?;
        let name = &after[..close];
        if name.is_empty() || name.contains('{') {
            return Err(format!("malformed placeholder in path template {path:?}"));
        }
        if !names.insert(name.to_owned()) {
            return Err(format!("placeholder {{{name}}} appears twice in {path:?}"));
        }
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("unmatched '}}' in path template {path:?}"));
    }
    Ok(names)
}

/// Follows a local `$ref` (`#/components/...`) if `node` is one.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> Result<&'a Value, String> {
    let Some(reference) = node.get("$ref") else {
        return Ok(node);
    };
    let Some(reference) = reference.as_str() else {
        return Err("`$ref` must be a string".to_owned());
    };
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(format!(
            "{reference:?}: only local references (#/...) are supported"
        ));
    };
    doc.pointer(pointer)
        .ok_or_else(|| format!("{reference:?} does not resolve to anything in this document"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names() {
        assert_eq!(
            template_params("/a/{x}/b/{y}").ok(),
            Some(BTreeSet::from(["x".to_owned(), "y".to_owned()]))
        );
        assert!(template_params("/a/{x").is_err());
        assert!(template_params("/a/{x}/{x}").is_err());
        assert!(template_params("/a/x}").is_err());
    }

    #[test]
    fn versions() {
        assert!(is_openapi_30("3.0.3"));
        assert!(is_openapi_30("3.0.4"));
        assert!(!is_openapi_30("3.1.0"));
        assert!(!is_openapi_30("3.0."));
        assert!(!is_openapi_30("2.0"));
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("rest"));
        assert!(is_identifier("cancel_rest2"));
        assert!(!is_identifier("2rest"));
        assert!(!is_identifier("rest-now"));
        assert!(!is_identifier(""));
    }
}
