//! What a run of cargo-mutants found (read from its `outcomes.json`), the survivors
//! known and why they stay (`.cargo/mutants-survivors.toml`), and the report of the last
//! whole run: `docs/test-strength.json` (read by the test command's mutation step for
//! the commit it compares with), `docs/test-strength.md`, and the README's paragraph —
//! all three written by `cargo xtask mutants`, never by hand.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

/// Mutants no test catches, each with why it stays.
pub(crate) const SURVIVORS: &str = ".cargo/mutants-survivors.toml";
/// The last whole run, as data.
pub(crate) const REPORT_JSON: &str = "docs/test-strength.json";
/// The last whole run, for people.
pub(crate) const REPORT_MD: &str = "docs/test-strength.md";
const README: &str = "README.md";
/// The reason a report gives a survivor the list lacks (`--explain` replaces it).
const NOT_LISTED: &str = "Not listed in .cargo/mutants-survivors.toml yet.";
const README_BEGIN: &str =
    "<!-- test-strength: written by `cargo xtask mutants` from docs/test-strength.json -->";
const README_END: &str = "<!-- /test-strength -->";

/// A mutant no test catches, and why that is acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Survivor {
    /// `file: description`, as cargo-mutants names it without the line and column.
    pub(crate) mutant: String,
    pub(crate) reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SurvivorFile {
    #[serde(default)]
    survivor: Vec<Survivor>,
}

/// Reads the list of known survivors; each needs a reason.
pub(crate) fn survivors(root: &Path) -> Result<Vec<Survivor>> {
    let path = root.join(SURVIVORS);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {SURVIVORS}"))?;
    let file: SurvivorFile =
        toml::from_str(&text).with_context(|| format!("{SURVIVORS} is not valid"))?;
    let mut seen = BTreeSet::new();
    for s in &file.survivor {
        if s.reason.trim().is_empty() {
            bail!("{SURVIVORS}: `{}` has no reason", s.mutant);
        }
        if !seen.insert(&s.mutant) {
            bail!("{SURVIVORS}: `{}` is listed twice", s.mutant);
        }
    }
    Ok(file.survivor)
}

/// How one mutant fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Caught,
    Missed,
    Timeout,
    Unviable,
}

/// One mutant's outcome.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// `file:line:col: description`.
    pub(crate) name: String,
    /// `file: description`: stays the same when lines move.
    pub(crate) key: String,
    pub(crate) fate: Fate,
    build_secs: f64,
    test_secs: f64,
}

/// The outcomes of one cargo-mutants run.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub(crate) outcomes: Vec<Outcome>,
}

impl Run {
    /// Reads `outcomes.json` in cargo-mutants' output directory (`…/mutants.out`).
    pub(crate) fn read(results: &Path) -> Result<Run> {
        let path = results.join("outcomes.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let mut outcomes = Vec::new();
        for o in json["outcomes"].as_array().into_iter().flatten() {
            // The baseline is a scenario too, not a mutant.
            let Some(mutant) = o["scenario"].get("Mutant") else {
                continue;
            };
            let name = mutant["name"].as_str().unwrap_or_default().to_owned();
            let file = mutant["file"].as_str().unwrap_or_default();
            let fate = match o["summary"].as_str().unwrap_or_default() {
                "CaughtMutant" => Fate::Caught,
                "MissedMutant" => Fate::Missed,
                "Timeout" => Fate::Timeout,
                "Unviable" => Fate::Unviable,
                other => bail!("{}: unknown outcome {other:?} of {name}", path.display()),
            };
            let phase = |which: &str| {
                o["phase_results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["phase"] == which)
                    .filter_map(|p| p["duration"].as_f64())
                    .sum::<f64>()
            };
            outcomes.push(Outcome {
                key: key_of(&name, file),
                fate,
                build_secs: phase("Build"),
                test_secs: phase("Test"),
                name,
            });
        }
        Ok(Run { outcomes })
    }

    /// Adds another run's outcomes (the test command's step runs two).
    pub(crate) fn extend(&mut self, other: Run) {
        self.outcomes.extend(other.outcomes);
    }

    pub(crate) fn count(&self, fate: Fate) -> usize {
        self.outcomes.iter().filter(|o| o.fate == fate).count()
    }

    /// Missed or timed-out mutants that the survivors list does not explain.
    pub(crate) fn unexplained<'a>(&'a self, survivors: &[Survivor]) -> Vec<&'a Outcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.fate, Fate::Missed | Fate::Timeout))
            .filter(|o| !survivors.iter().any(|s| s.mutant == o.key))
            .collect()
    }

    /// Listed survivors this run tested and caught: their entries are stale.
    pub(crate) fn caught_survivors<'a>(&self, survivors: &'a [Survivor]) -> Vec<&'a Survivor> {
        survivors
            .iter()
            .filter(|s| {
                let mut tested = self
                    .outcomes
                    .iter()
                    .filter(|o| o.key == s.mutant)
                    .peekable();
                tested.peek().is_some() && tested.all(|o| o.fate == Fate::Caught)
            })
            .collect()
    }

    fn mean(&self, secs: impl Fn(&Outcome) -> f64, viable: bool) -> f64 {
        let picked: Vec<f64> = self
            .outcomes
            .iter()
            .filter(|o| !viable || o.fate != Fate::Unviable)
            .map(secs)
            .collect();
        if picked.is_empty() {
            0.0
        } else {
            picked.iter().sum::<f64>() / picked.len() as f64
        }
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (caught, missed, timeout, unviable) = (
            self.count(Fate::Caught),
            self.count(Fate::Missed),
            self.count(Fate::Timeout),
            self.count(Fate::Unviable),
        );
        write!(
            f,
            "mutants: {caught} caught, {missed} missed, {timeout} timed out, {unviable} unviable"
        )?;
        let viable = caught + missed + timeout;
        if viable > 0 {
            // Timeouts count as not caught: a test that hangs is not a test that fails.
            write!(
                f,
                " — {:.1} % of {viable} viable mutants caught",
                caught as f64 * 100.0 / viable as f64
            )?;
        }
        Ok(())
    }
}

/// `file:line:col: description` → `file: description`.
fn key_of(name: &str, file: &str) -> String {
    let rest = name.strip_prefix(file).unwrap_or(name);
    let description = rest
        .trim_start_matches(|c: char| c == ':' || c.is_ascii_digit())
        .trim_start();
    format!("{file}: {description}")
}

/// The last whole run, as `docs/test-strength.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Report {
    /// The commit the mutants were made from (the tree was clean).
    pub(crate) commit: String,
    /// When the run started (UTC).
    pub(crate) date: String,
    pub(crate) cargo_mutants: String,
    /// Mutants built and tested at once.
    pub(crate) jobs: u32,
    pub(crate) duration_secs: u64,
    pub(crate) mutants: usize,
    pub(crate) caught: usize,
    pub(crate) missed: usize,
    pub(crate) timeout: usize,
    pub(crate) unviable: usize,
    /// Per mutant that built: the mean time to build it and to run the tests on it.
    pub(crate) mean_build_secs: f64,
    pub(crate) mean_test_secs: f64,
    /// The survivors, each with the reason the list gives (or none: the run failed).
    pub(crate) survivors: Vec<Survivor>,
}

impl Report {
    pub(crate) fn new(run: &Run, survivors: &[Survivor], meta: ReportMeta) -> Report {
        let left = run
            .outcomes
            .iter()
            .filter(|o| matches!(o.fate, Fate::Missed | Fate::Timeout))
            .map(|o| Survivor {
                mutant: o.key.clone(),
                reason: survivors
                    .iter()
                    .find(|s| s.mutant == o.key)
                    .map_or_else(|| NOT_LISTED.to_owned(), |s| s.reason.clone()),
            })
            .collect();
        let round = |x: f64| (x * 10.0).round() / 10.0;
        Report {
            commit: meta.commit,
            date: meta.date,
            cargo_mutants: meta.cargo_mutants,
            jobs: meta.jobs,
            duration_secs: meta.duration_secs,
            mutants: run.outcomes.len(),
            caught: run.count(Fate::Caught),
            missed: run.count(Fate::Missed),
            timeout: run.count(Fate::Timeout),
            unviable: run.count(Fate::Unviable),
            mean_build_secs: round(run.mean(|o| o.build_secs, true)),
            mean_test_secs: round(run.mean(|o| o.test_secs, true)),
            survivors: left,
        }
    }

    pub(crate) fn read(root: &Path) -> Result<Report> {
        let text = std::fs::read_to_string(root.join(REPORT_JSON)).with_context(|| {
            format!("cannot read {REPORT_JSON}: run `cargo xtask mutants` (a whole run) first")
        })?;
        serde_json::from_str(&text).with_context(|| format!("{REPORT_JSON} is not valid"))
    }

    fn viable(&self) -> usize {
        self.caught + self.missed + self.timeout
    }

    fn score(&self) -> f64 {
        self.caught as f64 * 100.0 / self.viable().max(1) as f64
    }

    fn short_commit(&self) -> &str {
        &self.commit[..self.commit.len().min(10)]
    }

    /// The README's paragraph (between its markers).
    pub(crate) fn readme_paragraph(&self) -> String {
        format!(
            "**Latest whole run ({date}, commit `{commit}`, {minutes} minutes with {jobs} \
             job(s)): {mutants} mutants — {caught} caught, {missed} missed, {timeout} timed \
             out, {unviable} unviable: {score:.1} % of the {viable} viable mutants caught.** \
             Every survivor and why it stays: [docs/test-strength.md](docs/test-strength.md).",
            date = &self.date[..self.date.len().min(10)],
            commit = self.short_commit(),
            minutes = self.duration_secs.div_ceil(60),
            jobs = self.jobs,
            mutants = self.mutants,
            caught = self.caught,
            missed = self.missed,
            timeout = self.timeout,
            unviable = self.unviable,
            score = self.score(),
            viable = self.viable(),
        )
    }

    /// `docs/test-strength.md`.
    pub(crate) fn markdown(&self) -> String {
        let mut md = format!(
            "# Test strength: the last whole mutation run\n\n\
             Written by `cargo xtask mutants` (a whole run of `ccgw` and `ccgw-client`, in \
             one piece, on a clean tree) — do not edit; the data is in \
             [`test-strength.json`](test-strength.json).\n\n\
             | | |\n|---|---|\n\
             | commit | `{commit}` |\n| started (UTC) | {date} |\n\
             | cargo-mutants | {version} |\n| jobs | {jobs} |\n\
             | duration | {minutes} min ({secs} s) |\n| mutants | {mutants} |\n\
             | caught | {caught} |\n| missed | {missed} |\n| timed out | {timeout} |\n\
             | unviable (do not build) | {unviable} |\n\
             | **score** | **{score:.1} % of {viable} viable mutants caught** |\n\
             | per mutant that built | {build:.1} s build, {test:.1} s tests |\n\n\
             ## Survivors\n\n",
            commit = self.commit,
            date = self.date,
            version = self.cargo_mutants,
            jobs = self.jobs,
            minutes = self.duration_secs.div_ceil(60),
            secs = self.duration_secs,
            mutants = self.mutants,
            caught = self.caught,
            missed = self.missed,
            timeout = self.timeout,
            unviable = self.unviable,
            score = self.score(),
            viable = self.viable(),
            build = self.mean_build_secs,
            test = self.mean_test_secs,
        );
        if self.survivors.is_empty() {
            md.push_str("None: every viable mutant was caught.\n");
        }
        for s in &self.survivors {
            md.push_str(&format!("- `{}`\n\n  {}\n\n", s.mutant, s.reason.trim()));
        }
        md.push_str(
            "## Reproducing\n\n\
             `cargo xtask mutants --jobs 3` on a clean tree runs every mutant and rewrites \
             this file, `test-strength.json` and the README's paragraph. The test command's \
             mutation step tests the mutants on lines changed since this run's commit, \
             and a rotating sample of the rest.\n",
        );
        md
    }

    /// The same report with each survivor's reason taken from `listed` again (the counts,
    /// the commit and the times stay the run's). Fails on a survivor `listed` lacks.
    pub(crate) fn explained(mut self, listed: &[Survivor]) -> Result<Report> {
        for s in &mut self.survivors {
            let Some(entry) = listed.iter().find(|l| l.mutant == s.mutant) else {
                bail!("{SURVIVORS} lacks `{}`: list it with its reason", s.mutant);
            };
            s.reason.clone_from(&entry.reason);
        }
        Ok(self)
    }

    /// Writes the JSON, the Markdown and the README's paragraph.
    pub(crate) fn write(&self, root: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)? + "\n";
        std::fs::write(root.join(REPORT_JSON), json)?;
        std::fs::write(root.join(REPORT_MD), self.markdown())?;
        let readme = std::fs::read_to_string(root.join(README))?;
        let updated = with_paragraph(&readme, &self.readme_paragraph())?;
        std::fs::write(root.join(README), updated)?;
        Ok(())
    }
}

/// What a report says about the run besides its outcomes.
#[derive(Debug)]
pub(crate) struct ReportMeta {
    pub(crate) commit: String,
    pub(crate) date: String,
    pub(crate) cargo_mutants: String,
    pub(crate) jobs: u32,
    pub(crate) duration_secs: u64,
}

/// `readme` with the text between the test-strength markers replaced by `paragraph`.
fn with_paragraph(readme: &str, paragraph: &str) -> Result<String> {
    let (Some(begin), Some(end)) = (readme.find(README_BEGIN), readme.find(README_END)) else {
        bail!("{README} lacks the markers {README_BEGIN} … {README_END}");
    };
    let after_begin = begin + README_BEGIN.len();
    if end < after_begin {
        bail!("{README}: the test-strength markers are out of order");
    }
    Ok(format!(
        "{}\n{paragraph}\n{}",
        &readme[..after_begin],
        &readme[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn the_key_drops_line_and_column_only() {
        assert_eq!(
            key_of(
                "crates/ccgw/src/confirm.rs:78:9: replace Target::confirmed_by -> bool with true",
                "crates/ccgw/src/confirm.rs"
            ),
            "crates/ccgw/src/confirm.rs: replace Target::confirmed_by -> bool with true"
        );
    }

    #[test]
    fn explaining_takes_the_reasons_from_the_list_and_needs_every_survivor() {
        let survivor = |mutant: &str, reason: &str| Survivor {
            mutant: mutant.to_owned(),
            reason: reason.to_owned(),
        };
        let report = Report {
            commit: "c".repeat(40),
            date: "2026-12-03T13:00Z".to_owned(),
            cargo_mutants: "27.1.0".to_owned(),
            jobs: 1,
            duration_secs: 60,
            mutants: 3,
            caught: 1,
            missed: 1,
            timeout: 0,
            unviable: 1,
            mean_build_secs: 3.0,
            mean_test_secs: 4.0,
            survivors: vec![survivor("a.rs: replace x", NOT_LISTED)],
        };
        let listed = [
            survivor("b.rs: other", "b"),
            survivor("a.rs: replace x", "why"),
        ];
        let explained = report.clone().explained(&listed).expect("listed");
        assert_eq!(
            explained.survivors,
            vec![survivor("a.rs: replace x", "why")]
        );
        assert_eq!((explained.caught, explained.missed), (1, 1), "counts kept");
        let err = report
            .explained(&listed[..1])
            .expect_err("a.rs is not listed");
        assert!(err.to_string().contains("a.rs: replace x"), "{err}");
    }

    /// The README's figure, `docs/test-strength.md` and the JSON agree: all three come
    /// from the whole run's command, and an edit by hand to one of them fails here.
    #[test]
    fn the_readme_and_the_report_quote_the_last_whole_run() {
        let root = root();
        let report = Report::read(&root).expect("the report");
        let readme = std::fs::read_to_string(root.join(README)).expect("README");
        assert_eq!(
            with_paragraph(&readme, &report.readme_paragraph()).expect("markers"),
            readme,
            "the README's test-strength paragraph is not the report's"
        );
        let md = std::fs::read_to_string(root.join(REPORT_MD)).expect("report");
        assert_eq!(md, report.markdown(), "{REPORT_MD} is not the JSON's");
    }

    /// Every survivor of the last whole run is in the list, with its reason (the list
    /// may hold more: survivors found by the test command's step since).
    #[test]
    fn the_survivors_list_explains_the_last_whole_run() {
        let root = root();
        let report = Report::read(&root).expect("the report");
        let listed = survivors(&root).expect("the list");
        for s in &report.survivors {
            assert!(
                listed.iter().any(|l| l.mutant == s.mutant),
                "{SURVIVORS} lacks `{}`",
                s.mutant
            );
        }
    }
}
