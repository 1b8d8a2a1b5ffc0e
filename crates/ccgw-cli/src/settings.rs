//! `ccgw config`: the effective settings and where each came from; its help (`ccgw help
//! config`) lists every key with its default and variable. Both read the library's
//! list of settings ([`ccgw::Config::settings`]), so neither can miss a key.

use crate::failure::Failure;
use crate::{GatewayArgs, effective_config, secrets};

/// `ccgw help config`: every key, its variable and its default.
pub(crate) fn help() -> String {
    let mut text = String::from(
        "Settings: a TOML file (--config FILE or CCGW_CONFIG), the CCGW_* variables over it,\n\
         the options over both. Durations: 600 (seconds), 90s, 250ms, 10m, 1h30m.\n\n",
    );
    let settings = ccgw::Config::default().settings();
    let width = settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
    let var_width = settings.iter().map(|s| s.variable.len()).max().unwrap_or(0);
    text.push_str(&format!(
        "  {:width$}  {:var_width$}  DEFAULT\n",
        "KEY", "VARIABLE"
    ));
    for s in &settings {
        let default = if s.default.is_empty() {
            "(none)"
        } else {
            &s.default
        };
        text.push_str(&format!(
            "  {:width$}  {:var_width$}  {default}\n",
            s.key, s.variable
        ));
    }
    text.push_str(&format!(
        "\nThe command line's own: {} (the password), {} (a Guid instead of the Guid file),\n\
         {} (the Guid files' directory; default ~/.local/state/ccgw).",
        secrets::PASSWORD_ENV,
        secrets::GUID_ENV,
        secrets::STATE_DIR_ENV
    ));
    text
}

/// One setting as `ccgw config` shows it.
struct Shown {
    key: &'static str,
    value: String,
    from: String,
}

/// Prints the effective settings (secrets never: the password and the Guid only as
/// "set"), with where each came from.
pub(crate) fn show(args: &GatewayArgs, json: bool) -> Result<(), Failure> {
    let config = effective_config(args).map_err(|e| Failure::config(&e))?;
    let flag = |key: &str| match key {
        "url" => args.url.is_some().then_some("--url"),
        "ca_file" => args.ca_file.is_some().then_some("--ca-file"),
        "allow_http" => args.allow_http.then_some("--allow-http"),
        "request_timeout" => args.timeout.is_some().then_some("--timeout"),
        _ => None,
    };
    let file = args.config.as_ref().map(|p| p.display().to_string());
    let mut shown: Vec<Shown> = config
        .settings()
        .into_iter()
        .map(|s| {
            let from = match (flag(s.key), std::env::var_os(s.variable), &file) {
                (Some(flag), ..) => flag.to_owned(),
                (None, Some(_), _) => s.variable.to_owned(),
                (None, None, Some(file)) if s.value != s.default => file.clone(),
                _ => "default".to_owned(),
            };
            Shown {
                key: s.key,
                value: s.value,
                from,
            }
        })
        .collect();
    for (key, variable) in [
        ("password", secrets::PASSWORD_ENV),
        ("guid", secrets::GUID_ENV),
    ] {
        let set = std::env::var_os(variable).is_some();
        shown.push(Shown {
            key,
            value: if set { "(set, not shown)" } else { "" }.to_owned(),
            from: if set { variable } else { "unset" }.to_owned(),
        });
    }
    if json {
        let object: serde_json::Map<String, serde_json::Value> = shown
            .iter()
            .map(|s| {
                let entry = serde_json::json!({"value": s.value, "from": s.from});
                (s.key.to_owned(), entry)
            })
            .collect();
        say!("{}", serde_json::Value::Object(object));
    } else {
        let width = shown.iter().map(|s| s.key.len()).max().unwrap_or(0);
        for s in &shown {
            let value = if s.value.is_empty() {
                "(none)"
            } else {
                &s.value
            };
            say!("{:width$}  {value}  [{}]", s.key, s.from);
        }
    }
    Ok(())
}
