//! Whether the spec still serves clients built from the last released one
//! (`openapi/released/<version>.yaml`), and whether `info.version` says so.
//!
//! No well-kept OpenAPI diff tool installs here: oasdiff ships Go binaries from GitHub,
//! OpenAPITools' openapi-diff comes from Maven, and npm's `openapi-diff` (Atlassian,
//! last released 2021) does not compare parameter ranges. So this is a small comparison
//! of what a generated client depends on, each rule with a test that shows it firing
//! (`xtask/tests/compat.rs`):
//!
//! - breaking: an operation, parameter, request field, response field or response
//!   header (`Set-GUID`) removed; a
//!   parameter or request field added as required, or made required; a type changed; a
//!   range narrowed on a parameter or request field (a bound added or moved inwards) or
//!   widened on a response field; an enum value removed; a response field no longer
//!   required;
//! - additive: an operation, optional parameter or field added; a request range
//!   widened, a response range narrowed; an enum value added.
//!
//! A breaking change needs a new major version whose changelog section says
//! `Breaking`; an additive one needs at least a new minor version.

use std::fmt;

use serde_json::Value;

/// One difference that matters to a client built from the released spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Whether such a client breaks.
    pub breaking: bool,
    /// Where and what, e.g. ``POST /…/rest/{time}/{restcause} parameter `time`: range
    /// narrowed from 1..=86399 to 1..=3600``.
    pub what: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// Where a schema sits: a request value must stay acceptable, a response value must
/// stay understood.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

struct Diff<'a> {
    old: &'a Value,
    new: &'a Value,
    changes: Vec<Change>,
}

/// The changes from `released` to `current` (both specs as JSON values).
pub fn changes(released: &Value, current: &Value) -> Vec<Change> {
    let mut diff = Diff {
        old: released,
        new: current,
        changes: Vec::new(),
    };
    diff.operations();
    diff.changes
}

/// Checks `current` (version `version`, changelog section `notes`) against `released`
/// (version `released_version`); the error lists every change that needs a bump.
pub fn check(
    released: &Value,
    released_version: &str,
    current: &Value,
    version: &str,
    notes: &str,
) -> Result<Vec<Change>, String> {
    let all = changes(released, current);
    let (old, new) = (semver(released_version)?, semver(version)?);
    let breaking: Vec<&Change> = all.iter().filter(|c| c.breaking).collect();
    let listed = |changes: &[&Change]| {
        changes
            .iter()
            .map(|c| format!("  - {c}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if !breaking.is_empty() {
        let needed = format!("{}.0.0", old.0 + 1);
        if new.0 <= old.0 {
            return Err(format!(
                "these changes break clients built from the released spec {released_version}:\n{}\n\
                 info.version must be {needed} (a new major version) or higher, with a changelog section that says `Breaking` and why; it is {version}",
                listed(&breaking)
            ));
        }
        if !notes.contains("Breaking") {
            return Err(format!(
                "info.version {version} is a new major version, but its changelog section does not say `Breaking` and why:\n{}",
                listed(&breaking)
            ));
        }
    } else if !all.is_empty() && (new.0, new.1) <= (old.0, old.1) {
        let additive: Vec<&Change> = all.iter().collect();
        return Err(format!(
            "these additions to the released spec {released_version} need a new minor version ({}.{}.0 or higher; it is {version}):\n{}",
            old.0,
            old.1 + 1,
            listed(&additive)
        ));
    }
    if new < old {
        return Err(format!(
            "info.version {version} is lower than the released {released_version}"
        ));
    }
    Ok(all)
}

/// `MAJOR.MINOR.PATCH` as numbers.
pub fn semver(version: &str) -> Result<(u64, u64, u64), String> {
    let parts: Vec<u64> = version
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{version:?} is not MAJOR.MINOR.PATCH"))?;
    match parts[..] {
        [major, minor, patch] => Ok((major, minor, patch)),
        _ => Err(format!("{version:?} is not MAJOR.MINOR.PATCH")),
    }
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

impl Diff<'_> {
    fn note(&mut self, breaking: bool, what: String) {
        self.changes.push(Change { breaking, what });
    }

    fn operations(&mut self) {
        let (old_paths, new_paths) = (&self.old["paths"], &self.new["paths"]);
        for (path, old_item) in old_paths.as_object().into_iter().flatten() {
            for method in METHODS {
                let Some(old_op) = old_item.get(method) else {
                    continue;
                };
                let at = format!("{} {path}", method.to_uppercase());
                match new_paths.get(path).and_then(|item| item.get(method)) {
                    None => self.note(true, format!("{at}: operation removed")),
                    Some(new_op) => self.operation(&at, old_op, new_op),
                }
            }
        }
        for (path, new_item) in new_paths.as_object().into_iter().flatten() {
            for method in METHODS {
                if new_item.get(method).is_some()
                    && old_paths.get(path).and_then(|i| i.get(method)).is_none()
                {
                    let at = format!("{} {path}", method.to_uppercase());
                    self.note(false, format!("{at}: operation added"));
                }
            }
        }
    }

    fn operation(&mut self, at: &str, old: &Value, new: &Value) {
        let params = |spec: &Value, op: &Value| -> Vec<Value> {
            op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| resolve(spec, p).clone())
                .collect()
        };
        let (old_params, new_params) = (params(self.old, old), params(self.new, new));
        let key = |p: &Value| (p["name"].clone(), p["in"].clone());
        for op in &old_params {
            let name = op["name"].as_str().unwrap_or_default();
            let here = format!("{at} parameter `{name}`");
            match new_params.iter().find(|np| key(np) == key(op)) {
                None => self.note(true, format!("{here}: removed")),
                Some(np) => {
                    if np["required"] == true && op["required"] != true {
                        self.note(true, format!("{here}: made required"));
                    }
                    self.schema(&here, &op["schema"], &np["schema"], Side::Request);
                }
            }
        }
        for np in &new_params {
            if !old_params.iter().any(|op| key(op) == key(np)) {
                let name = np["name"].as_str().unwrap_or_default();
                let required = np["required"] == true;
                let kind = if required {
                    "added as required"
                } else {
                    "added"
                };
                self.note(required, format!("{at} parameter `{name}`: {kind}"));
            }
        }
        let body = |spec: &Value, op: &Value| {
            json_schema(spec, resolve(spec, &op["requestBody"])).cloned()
        };
        if let (Some(ob), Some(nb)) = (body(self.old, old), body(self.new, new)) {
            self.schema(&format!("{at} request body"), &ob, &nb, Side::Request);
        }
        let (old_ok, new_ok) = (
            resolve(self.old, &old["responses"]["200"]),
            resolve(self.new, &new["responses"]["200"]),
        );
        for (name, _) in old_ok["headers"].as_object().into_iter().flatten() {
            if new_ok["headers"].get(name).is_none() {
                self.note(true, format!("{at} answer header `{name}`: removed"));
            }
        }
        let answer = |spec: &Value, op: &Value| {
            json_schema(spec, resolve(spec, &op["responses"]["200"])).cloned()
        };
        if let (Some(oa), Some(na)) = (answer(self.old, old), answer(self.new, new)) {
            self.schema(&format!("{at} answer"), &oa, &na, Side::Response);
        }
    }

    fn schema(&mut self, here: &str, old: &Value, new: &Value, side: Side) {
        let (old, new) = (resolve(self.old, old), resolve(self.new, new));
        if old["type"] != new["type"] {
            self.note(
                true,
                format!(
                    "{here}: type changed from {} to {}",
                    old["type"], new["type"]
                ),
            );
            return;
        }
        self.range(here, old, new, side);
        self.enumeration(here, old, new);
        let (old_props, new_props) = (&old["properties"], &new["properties"]);
        let required = |s: &Value, name: &str| {
            s["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|n| n == name))
        };
        for (name, op) in old_props.as_object().into_iter().flatten() {
            let field = format!("{here} field `{name}`");
            match new_props.get(name) {
                None => self.note(true, format!("{field}: removed")),
                Some(np) => {
                    let (was, is) = (required(old, name), required(new, name));
                    match side {
                        Side::Request if is && !was => {
                            self.note(true, format!("{field}: made required"));
                        }
                        Side::Response if was && !is => {
                            self.note(true, format!("{field}: no longer always present"));
                        }
                        _ => {}
                    }
                    self.schema(&field, op, np, side);
                }
            }
        }
        for (name, _) in new_props.as_object().into_iter().flatten() {
            if old_props.get(name).is_none() {
                let breaking = side == Side::Request && required(new, name);
                let kind = if breaking {
                    "added as required"
                } else {
                    "added"
                };
                self.note(breaking, format!("{here} field `{name}`: {kind}"));
            }
        }
    }

    fn range(&mut self, here: &str, old: &Value, new: &Value, side: Side) {
        let bound = |s: &Value, k: &str| s[k].as_f64();
        let (old_min, new_min) = (bound(old, "minimum"), bound(new, "minimum"));
        let (old_max, new_max) = (bound(old, "maximum"), bound(new, "maximum"));
        if (old_min, old_max) == (new_min, new_max) {
            return;
        }
        let narrower_min = match (old_min, new_min) {
            (None, Some(_)) => true,
            (Some(o), Some(n)) => n > o,
            _ => false,
        };
        let narrower_max = match (old_max, new_max) {
            (None, Some(_)) => true,
            (Some(o), Some(n)) => n < o,
            _ => false,
        };
        let wider_min = match (old_min, new_min) {
            (Some(_), None) => true,
            (Some(o), Some(n)) => n < o,
            _ => false,
        };
        let wider_max = match (old_max, new_max) {
            (Some(_), None) => true,
            (Some(o), Some(n)) => n > o,
            _ => false,
        };
        let (narrowed, widened) = (narrower_min || narrower_max, wider_min || wider_max);
        // A request value must stay acceptable; a response value must stay understood.
        let breaking = match side {
            Side::Request => narrowed,
            Side::Response => widened,
        };
        let show = |min: Option<f64>, max: Option<f64>| {
            let end = |b: Option<f64>| b.map_or(String::new(), |b| format!("{b}"));
            format!("{}..={}", end(min), end(max))
        };
        let how = match (narrowed, widened) {
            (true, true) => "moved",
            (true, false) => "narrowed",
            _ => "widened",
        };
        self.note(
            breaking,
            format!(
                "{here}: range {how} from {} to {}",
                show(old_min, old_max),
                show(new_min, new_max)
            ),
        );
    }

    fn enumeration(&mut self, here: &str, old: &Value, new: &Value) {
        let (Some(old_values), Some(new_values)) = (old["enum"].as_array(), new["enum"].as_array())
        else {
            return;
        };
        for value in old_values {
            if !new_values.contains(value) {
                self.note(true, format!("{here}: value {value} removed"));
            }
        }
        for value in new_values {
            if !old_values.contains(value) {
                self.note(false, format!("{here}: value {value} added"));
            }
        }
    }
}

/// Follows a local `$ref` (repeatedly); anything else is returned as it is.
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    let mut current = value;
    for _ in 0..16 {
        let Some(reference) = current["$ref"].as_str() else {
            return current;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            return current;
        };
        match spec.pointer(pointer) {
            Some(target) => current = target,
            None => return current,
        }
    }
    current
}

/// The JSON schema of a request body or response.
fn json_schema<'a>(spec: &'a Value, holder: &'a Value) -> Option<&'a Value> {
    holder["content"]
        .as_object()?
        .iter()
        .find(|(media, _)| media.starts_with("application/json"))
        .map(|(_, content)| resolve(spec, &content["schema"]))
}
