//! The `CCGW_*` variables this command line reads: the library's settings, its own
//! options' and the secrets'. One it does not know is a typo until shown otherwise.

use clap::CommandFactory as _;

use crate::secrets;

/// Every `CCGW_*` variable `ccgw` reads.
pub(crate) fn known() -> Vec<String> {
    let mut names: Vec<String> = ccgw::Config::default()
        .settings()
        .into_iter()
        .map(|s| s.variable.to_owned())
        .collect();
    names.extend(
        [
            secrets::PASSWORD_ENV,
            secrets::GUID_ENV,
            secrets::STATE_DIR_ENV,
        ]
        .map(str::to_owned),
    );
    let mut commands = vec![crate::Cli::command()];
    while let Some(command) = commands.pop() {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env() {
                names.push(name.to_string_lossy().into_owned());
            }
        }
        commands.extend(command.get_subcommands().cloned());
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// A warning for each `CCGW_*` variable of `present` that `ccgw` does not read, with
/// the nearest known name.
pub(crate) fn unknown(present: impl IntoIterator<Item = String>) -> Vec<String> {
    let known = known();
    present
        .into_iter()
        .filter(|name| name.starts_with("CCGW_") && !known.contains(name))
        .map(|name| {
            let nearest = known
                .iter()
                .map(|k| (strsim::levenshtein(k, &name), k))
                .min()
                .filter(|(distance, _)| *distance <= 3);
            match nearest {
                Some((_, k)) => {
                    format!("{name} is not a ccgw variable and is ignored (did you mean {k}?)")
                }
                None => format!(
                    "{name} is not a ccgw variable and is ignored (`ccgw help config` lists them)"
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_typo_is_named_with_its_nearest_variable() {
        let warnings = super::unknown([
            "CCGW_CAFILE".to_owned(),
            "CCGW_URL".to_owned(),
            "HOME".to_owned(),
        ]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("did you mean CCGW_CA_FILE?"),
            "{warnings:?}"
        );
    }
}
