//! The generator behind `cargo xtask gen`: spec → checks → progenitor → prettyplease →
//! `crates/ccgw-client/src/generated.rs`.
//!
//! It is a library so that the drift tests (`xtask/tests/drift.rs`) run the very code
//! the command runs. Nothing else in the workspace depends on it.

pub mod compat;
pub mod spec_check;
mod surface;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use sha2::{Digest as _, Sha256};

pub use spec_check::{Problem, check_spec};
pub use surface::surface;

/// The spec, relative to the workspace root.
pub const SPEC: &str = "openapi/ccgateway.yaml";
/// The generated client module, relative to the workspace root.
pub const GENERATED: &str = "crates/ccgw-client/src/generated.rs";
/// The spec as JSON, for tools that prefer it (written by `cargo xtask spec`).
pub const SPEC_JSON: &str = "openapi/ccgateway.json";
/// The spec's changelog: one `## <version>` section per `info.version`.
pub const CHANGELOG: &str = "openapi/CHANGELOG.md";
/// The simulator's operation names, generated from the spec's `operationId`s.
pub const SIM_OPERATIONS: &str = "crates/ccgw-sim/src/operation.rs";
/// The command that regenerates [`GENERATED`], [`SIM_OPERATIONS`], [`SPEC_JSON`] and
/// [`SURFACE`].
pub const GEN_COMMAND: &str = "cargo xtask gen";
/// The generated client's surface as an insta snapshot (see [`surface`]), checked by
/// `xtask/tests/drift.rs` and written by [`GEN_COMMAND`].
pub const SURFACE: &str = "xtask/tests/snapshots/drift__surface.snap";

/// The snapshot file for `surface`, in insta's format.
pub fn surface_snapshot(surface: &str) -> String {
    format!("---\nsource: xtask/tests/drift.rs\nexpression: surface\n---\n{surface}")
}

/// Writes `contents` to `root/path`, or with `check` fails with a diff if the file
/// differs — one function for both, so that the check and the writer cannot disagree
/// (rust-analyzer's `ensure_file_contents`). The failure names [`GEN_COMMAND`]. Returns
/// whether the file was written.
pub fn ensure_file_contents(root: &Path, path: &str, contents: &str, check: bool) -> Result<bool> {
    let full = root.join(path);
    let current = normalise_newlines(&std::fs::read_to_string(&full).unwrap_or_default());
    if current == contents {
        return Ok(false);
    }
    if check {
        bail!(
            "{path} is out of date with {SPEC}:\n{}\n  run `{GEN_COMMAND}` and commit the result",
            unified_diff(path, &current, contents)
        );
    }
    if let Some(dir) = full.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&full, contents).with_context(|| format!("cannot write {path}"))?;
    Ok(true)
}

/// The workspace root (the parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// A spec read from disk and checked: what the generator needs.
#[derive(Debug)]
pub struct Spec {
    /// Path as given, for messages.
    pub display_path: String,
    /// SHA-256 of the spec text (line endings normalised to LF), lower-case hex.
    pub sha256: String,
    /// The parsed document.
    pub openapi: openapiv3::OpenAPI,
}

/// Reads, parses and checks a spec. Every problem progenitor would panic on (or
/// silently mis-generate) is reported here with its location in the spec.
pub fn load_spec(path: &Path, display_path: &str) -> Result<Spec> {
    let raw = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the spec {display_path}"))?;
    let text = normalise_newlines(&raw);
    let value: serde_json::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| anyhow!("{display_path}: not valid YAML: {e}"))?;

    let problems = check_spec(&value);
    if !problems.is_empty() {
        let mut msg = format!(
            "{display_path}: {} problem(s) found; nothing was generated",
            problems.len()
        );
        for p in &problems {
            let _ = write!(msg, "\n  - {display_path}: {p}");
        }
        bail!(msg);
    }

    let mut value = value;
    document_ranges(&mut value);
    let openapi: openapiv3::OpenAPI = serde_json::from_value(value)
        .map_err(|e| anyhow!("{display_path}: not an OpenAPI 3.0 document: {e}"))?;
    Ok(Spec {
        display_path: display_path.to_owned(),
        sha256: sha256_hex(text.as_bytes()),
        openapi,
    })
}

/// Generates the complete contents of `generated.rs` for a checked spec.
pub fn generate(spec: &Spec) -> Result<String> {
    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Positional)
        .with_tag(progenitor::TagStyle::Merged)
        // The hand-written `ClientHooks` impl in `ccgw-client/src/session.rs` is
        // required: without it the crate does not compile.
        .with_hooks(progenitor::HooksMode::Expected)
        // `AgentEvent` is an `anyOf` (the rest events, then any event). typify turns it
        // into a struct of flattened optional parts, and serde's flatten lets the first
        // part that fails consume the fields the others need, so most events would come
        // out empty. The client takes the event as JSON and types it by hand instead.
        .with_replacement("AgentEvent", "::serde_json::Value", std::iter::empty())
        // The password gets a type that prints `<redacted>` and wipes itself
        // (`ccgw-client/src/password.rs`) instead of a `String` every `Debug` shows.
        .with_replacement("Password", "crate::Password", std::iter::empty())
        .with_inner_type(
            "crate::session::Session"
                .parse::<proc_macro2::TokenStream>()
                .map_err(|e| anyhow!("inner type does not parse: {e}"))?,
        );

    // progenitor reports most problems as errors but still panics on a few
    // constructs; turn a panic into an error that names the spec.
    let tokens = quiet_catch_unwind(|| {
        progenitor::Generator::new(&settings).generate_tokens(&spec.openapi)
    })
    .map_err(|panic| {
        anyhow!(
            "{}: progenitor gave up on this spec: {panic}\n  \
             (a construct the spec checks do not cover yet; run `cargo xtask gen` after fixing the spec)",
            spec.display_path
        )
    })?
    .map_err(|e| anyhow!("{}: progenitor cannot generate a client: {e}", spec.display_path))?;

    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| anyhow!("progenitor produced code that does not parse: {e}"))?;
    let body = prettyplease::unparse(&file);
    let operations = operations_module(spec, &body)?;
    let limits = limits_module(spec, "pub mod limits")?;
    Ok(format!(
        "//! Generated by `{GEN_COMMAND}` from {} (sha256 {}); do not edit by hand.\n\n{body}{operations}{limits}",
        spec.display_path, spec.sha256
    ))
}

/// The documented range of every integer path parameter of the spec, by name
/// (`agentid`, `time`, `restcause`), in name order. A name used with two different
/// ranges, or an integer path parameter without both bounds, is an error.
pub fn path_ranges(spec: &Spec) -> Result<Vec<(String, i64, i64)>> {
    use openapiv3::{Parameter, ParameterSchemaOrContent, ReferenceOr, SchemaKind, Type};
    let mut ranges = std::collections::BTreeMap::<String, (i64, i64)>::new();
    for (path, verb, op) in spec.openapi.operations() {
        for param in &op.parameters {
            let param = match param {
                ReferenceOr::Item(p) => p,
                ReferenceOr::Reference { reference } => {
                    let name = reference.trim_start_matches("#/components/parameters/");
                    match spec
                        .openapi
                        .components
                        .as_ref()
                        .and_then(|c| c.parameters.get(name))
                    {
                        Some(ReferenceOr::Item(p)) => p,
                        _ => bail!(
                            "{}: {verb} {path}: {reference} does not resolve to a parameter",
                            spec.display_path
                        ),
                    }
                }
            };
            let Parameter::Path { parameter_data, .. } = param else {
                continue;
            };
            let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) =
                &parameter_data.format
            else {
                continue;
            };
            let SchemaKind::Type(Type::Integer(int)) = &schema.schema_kind else {
                continue;
            };
            let (Some(min), Some(max)) = (int.minimum, int.maximum) else {
                bail!(
                    "{}: {verb} {path}: path parameter `{}` has no minimum or maximum; clients validate against both",
                    spec.display_path,
                    parameter_data.name
                );
            };
            if let Some(seen) = ranges.insert(parameter_data.name.clone(), (min, max))
                && seen != (min, max)
            {
                bail!(
                    "{}: path parameter `{}` has two ranges ({}..={} and {min}..={max}); one name, one range",
                    spec.display_path,
                    parameter_data.name,
                    seen.0,
                    seen.1
                );
            }
        }
    }
    Ok(ranges
        .into_iter()
        .map(|(name, (min, max))| (name, min, max))
        .collect())
}

/// A module (`header`, e.g. `pub mod limits`) with one inclusive range per integer path
/// parameter of the spec, so that hand-written checks take the spec's bounds instead of
/// typing them.
fn limits_module(spec: &Spec, header: &str) -> Result<String> {
    use heck::ToShoutySnakeCase as _;
    let mut consts = String::new();
    for (name, min, max) in path_ranges(spec)? {
        let _ = write!(
            consts,
            "    /// Path parameter `{name}`: the documented range, inclusive.\n    pub const {}: ::std::ops::RangeInclusive<i64> = {min}..={max};\n",
            name.to_shouty_snake_case()
        );
    }
    let module = format!(
        "/// The documented ranges of the spec's integer path parameters (the generated\n/// client does not check them; hand-written code does, with these bounds).\n{header} {{\n{consts}}}\n"
    );
    let file: syn::File =
        syn::parse_str(&module).map_err(|e| anyhow!("the limits module does not parse: {e}"))?;
    Ok(prettyplease::unparse(&file))
}

/// The `operations` module: one constant per operation of the spec, so that hand-written
/// code compares with generated names instead of typing them. `method` is progenitor's
/// method name, which is also what it puts in `OperationInfo::operation_id`; generation
/// fails if the generated code does not use it there.
fn operations_module(spec: &Spec, generated: &str) -> Result<String> {
    use heck::{ToShoutySnakeCase as _, ToSnakeCase as _};
    let mut consts = String::new();
    let mut all = Vec::new();
    for (path, verb, op) in spec.openapi.operations() {
        let log_name = op
            .operation_id
            .as_deref()
            .ok_or_else(|| anyhow!("{}: {verb} {path} has no operationId", spec.display_path))?;
        let method = log_name.to_snake_case();
        if !generated.contains(&format!("operation_id: \"{method}\"")) {
            bail!(
                "{}: progenitor did not name the method of operationId {log_name:?} `{method}`; \
                 the operation constants would not match `OperationInfo::operation_id`",
                spec.display_path
            );
        }
        let sends_guid = op.security.as_ref().is_none_or(|s| !s.is_empty());
        let name = log_name.to_shouty_snake_case();
        let events: Vec<String> = op
            .extensions
            .get("x-ccgw-events")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("name").and_then(|n| n.as_str()))
            .map(|n| format!("\"{n}\""))
            .collect();
        let _ = write!(
            consts,
            "    /// `{} {path}` (log name `{log_name}`).\n    pub const {name}: Operation = Operation {{\n        log_name: \"{log_name}\",\n        method: \"{method}\",\n        sends_guid: {sends_guid},\n        events: &[{}],\n    }};\n",
            verb.to_uppercase(),
            events.join(", ")
        );
        all.push(name);
    }
    let module = format!(
        r#"/// The spec's operations, for code that must name one (hooks, logs, errors).
pub mod operations {{
    /// One operation of the spec.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Operation {{
        /// The spec's `operationId`: the gateway's method name in logs (`getAgentEvent`).
        pub log_name: &'static str,
        /// The generated method's name, which progenitor also puts in
        /// `OperationInfo::operation_id` (`get_agent_event`).
        pub method: &'static str,
        /// Whether the request carries the session's Guid (false for `security: []`).
        pub sends_guid: bool,
        /// The events it triggers (`x-ccgw-events`), in the spec's order.
        pub events: &'static [&'static str],
    }}
{consts}
    /// Every operation, in path order.
    pub const ALL: [Operation; {}] = [{}];
    /// The operation whose generated method (`OperationInfo::operation_id`) is `method`.
    pub fn by_method(method: &str) -> Option<Operation> {{
        ALL.into_iter().find(|op| op.method == method)
    }}
}}
"#,
        all.len(),
        all.join(", ")
    );
    let file: syn::File = syn::parse_str(&module)
        .map_err(|e| anyhow!("the operations module does not parse: {e}"))?;
    Ok(prettyplease::unparse(&file))
}

/// The contents of [`SIM_OPERATIONS`]: one constant per `operationId` and the path
/// parameters' ranges, so the simulator names its operations and checks its paths as the
/// spec does without sharing code with the client.
pub fn sim_operations(spec: &Spec) -> Result<String> {
    use heck::ToShoutySnakeCase as _;
    let mut consts = String::new();
    let mut all = Vec::new();
    for (path, verb, op) in spec.openapi.operations() {
        let id = op
            .operation_id
            .as_deref()
            .ok_or_else(|| anyhow!("{}: {verb} {path} has no operationId", spec.display_path))?;
        let name = id.to_shouty_snake_case();
        let _ = write!(
            consts,
            "/// `{} {path}`.\npub const {name}: &str = \"{id}\";\n",
            verb.to_uppercase()
        );
        all.push(name);
    }
    let module = format!(
        "{consts}/// Every operation served, in path order.\npub const ALL: [&str; {}] = [{}];\n{}",
        all.len(),
        all.join(", "),
        limits_module(spec, "pub mod limits")?
    );
    let file: syn::File = syn::parse_str(&module)
        .map_err(|e| anyhow!("the simulator's operations do not parse: {e}"))?;
    Ok(format!(
        "//! Generated by `{GEN_COMMAND}` from {} (sha256 {}); do not edit by hand.\n//! The operations the simulator serves, by the spec's `operationId` (the gateway's\n//! method name in logs), and the documented ranges of their path parameters.\n\n{}",
        spec.display_path,
        spec.sha256,
        prettyplease::unparse(&file)
    ))
}

/// Appends each parameter's `minimum`/`maximum` to its description (in memory only):
/// progenitor does not enforce or show bounds, so without this a range change in the
/// spec would be invisible in the generated code and its docs.
fn document_ranges(doc: &mut serde_json::Value) {
    fn annotate(param: &mut serde_json::Value) {
        let schema = &param["schema"];
        let (min, max) = (
            schema.get("minimum").cloned(),
            schema.get("maximum").cloned(),
        );
        if min.is_none() && max.is_none() {
            return;
        }
        let show =
            |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string).unwrap_or_default();
        let note = format!(
            "Allowed by the spec: `{}..={}` (not checked by this generated code).",
            show(&min),
            show(&max)
        );
        let text = param
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or_default();
        let text = if text.is_empty() {
            note
        } else {
            format!("{}\n{note}", text.trim_end())
        };
        param["description"] = serde_json::Value::String(text);
    }
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (key, node) in item.iter_mut() {
                let list = if key == "parameters" {
                    Some(node)
                } else {
                    node.get_mut("parameters")
                };
                for param in list.and_then(|l| l.as_array_mut()).into_iter().flatten() {
                    annotate(param);
                }
            }
        }
    }
    if let Some(params) = doc
        .pointer_mut("/components/parameters")
        .and_then(|p| p.as_object_mut())
    {
        params.values_mut().for_each(annotate);
    }
}

/// Loads the workspace spec and generates `generated.rs` from it.
pub fn generate_workspace_client() -> Result<String> {
    let spec = load_spec(&workspace_root().join(SPEC), SPEC)?;
    generate(&spec)
}

/// A YAML document (the spec, a released spec) as a JSON value.
pub fn read_yaml(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| anyhow!("{}: not valid YAML: {e}", path.display()))
}

/// The workspace spec as a JSON value, read once for the checks of `cargo xtask gen`.
pub fn spec_value(root: &Path) -> Result<serde_json::Value> {
    read_yaml(&root.join(SPEC))
}

/// The contents of [`SPEC_JSON`]: the same document as the YAML spec, as JSON.
pub fn spec_json(spec: &serde_json::Value) -> Result<String> {
    Ok(serde_json::to_string_pretty(spec)? + "\n")
}

/// Checks that the spec's `info.version` is semver (`MAJOR.MINOR.PATCH`) and that
/// [`CHANGELOG`] has a `## <version>` section for it.
pub fn check_version(root: &Path, spec: &serde_json::Value) -> Result<String> {
    let version = spec["info"]["version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if compat::semver(&version).is_err() {
        bail!(
            "{SPEC}: info.version {version:?} is not MAJOR.MINOR.PATCH (the contract follows semver)"
        );
    }
    let changelog = std::fs::read_to_string(root.join(CHANGELOG))
        .with_context(|| format!("cannot read {CHANGELOG}"))?;
    if !changelog
        .lines()
        .any(|l| l.trim() == format!("## {version}"))
    {
        bail!(
            "{CHANGELOG} has no `## {version}` section for the spec's info.version: say what changed in the contract"
        );
    }
    Ok(version)
}

/// Where released versions of the spec are kept, one `<version>.yaml` each; the highest
/// is the one clients are built from.
pub const RELEASED: &str = "openapi/released";

/// Checks `spec` (version `version`) against the last released one (see [`compat`]);
/// returns the released version and the changes.
pub fn check_compatibility(
    root: &Path,
    spec: &serde_json::Value,
    version: &str,
) -> Result<(String, Vec<compat::Change>)> {
    let mut released: Vec<((u64, u64, u64), std::path::PathBuf)> =
        std::fs::read_dir(root.join(RELEASED))
            .with_context(|| format!("cannot read {RELEASED}/ (the released specs)"))?
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let key = compat::semver(path.file_stem()?.to_str()?).ok()?;
                (path.extension()? == "yaml").then_some((key, path))
            })
            .collect();
    released.sort();
    let Some(((major, minor, patch), path)) = released.pop() else {
        bail!("{RELEASED}/ holds no <version>.yaml: keep the last released spec there");
    };
    let released_version = format!("{major}.{minor}.{patch}");
    let changelog = std::fs::read_to_string(root.join(CHANGELOG))
        .with_context(|| format!("cannot read {CHANGELOG}"))?;
    let notes = changelog
        .split("\n## ")
        .find(|section| section.starts_with(&format!("{version}\n")))
        .unwrap_or_default();
    let changes = compat::check(&read_yaml(&path)?, &released_version, spec, version, notes)
        .map_err(|e| anyhow!("{SPEC} against {}: {e}", path.display()))?;
    Ok((released_version, changes))
}

/// A unified diff of `old` → `new`, labelled with `path`, for drift messages.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{path} (committed)"),
            &format!("{path} (generated)"),
        )
        .to_string()
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// CRLF → LF, so a checkout with Windows line endings hashes and compares the same.
pub fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n")
}

fn quiet_catch_unwind<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}
