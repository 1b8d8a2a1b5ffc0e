//! The password and the Guid: from the environment, a file or a prompt — never from a
//! command-line flag (other users can read those in the process list), never printed.
//! The Guid file's first line is the Guid; a second line, when the gateway is a cluster
//! behind a load balancer, is the session's affinity (the load balancer's cookies), as
//! secret as the Guid.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use ccgw::{Affinity, AgentId, Guid};
use zeroize::Zeroizing;

use crate::failure::Failure;

/// The variable that holds the password.
pub(crate) const PASSWORD_ENV: &str = "CCGW_PASSWORD";
/// The variable that holds a Guid (instead of the Guid file).
pub(crate) const GUID_ENV: &str = "CCGW_GUID";
/// The variable naming the directory of the Guid files.
pub(crate) const STATE_DIR_ENV: &str = "CCGW_STATE_DIR";

/// The password: the first line of `file` (`--password-file`), else `CCGW_PASSWORD`, else
/// a prompt on a terminal.
pub(crate) fn password(file: Option<&Path>) -> Result<Zeroizing<String>, Failure> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Failure::Input(format!(
                "cannot read the password file {}: {e}",
                file.display()
            ))
        })?;
        return Ok(Zeroizing::new(
            text.lines().next().unwrap_or_default().to_owned(),
        ));
    }
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(Zeroizing::new(password));
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("password: ")
            .map(Zeroizing::new)
            .map_err(|e| Failure::Input(format!("cannot read the password: {e}")));
    }
    Err(Failure::Input(
        "no password: set CCGW_PASSWORD, use --password-file, or run in a terminal to be asked"
            .to_owned(),
    ))
}

/// Where the agent's Guid file is: `--guid-file`, else `$CCGW_STATE_DIR/agent-<id>.guid`,
/// else `~/.local/state/ccgw/agent-<id>.guid`.
pub(crate) fn guid_path(explicit: &Option<PathBuf>, agent: AgentId) -> Result<PathBuf, Failure> {
    if let Some(path) = explicit {
        return Ok(path.clone());
    }
    let dir = match (std::env::var_os(STATE_DIR_ENV), std::env::var_os("HOME")) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Some(home)) => PathBuf::from(home).join(".local/state/ccgw"),
        (None, None) => {
            return Err(Failure::Input(
                "no place for the Guid file: set CCGW_STATE_DIR or use --guid-file".to_owned(),
            ));
        }
    };
    Ok(dir.join(format!("agent-{agent}.guid")))
}

/// Writes the Guid (and the affinity, if any) to `file`, readable by its owner only:
/// into a new file (mode 0600) beside it, renamed over it, so a reader sees the old file
/// or the new one, never half of one, and whatever mode the old file had is gone.
pub(crate) fn store_guid(
    file: &Path,
    guid: &Guid,
    affinity: Option<&Affinity>,
) -> Result<(), Failure> {
    let text = match affinity {
        Some(affinity) => format!("{}\n{}\n", guid.expose_secret(), affinity.expose_secret()),
        None => format!("{}\n", guid.expose_secret()),
    };
    write_private(file, &Zeroizing::new(text))
}

/// Checks, before signing in, that the Guid file can be written: its directory is
/// created, and a file written there and removed.
pub(crate) fn check_writable(file: &Path) -> Result<(), Failure> {
    let probe = temporary(file);
    write_new(&probe, b"").map_err(|e| cannot_write(file, &e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn cannot_write(file: &Path, e: &std::io::Error) -> Failure {
    Failure::Input(format!(
        "cannot write the Guid file {}: {e} (set CCGW_STATE_DIR to a writable directory or use --guid-file)",
        file.display()
    ))
}

/// `file`'s temporary sibling, unique to this process.
fn temporary(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    file.with_file_name(name)
}

/// Creates `path` anew, readable by its owner only, holding `bytes`, flushed to disk.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options.open(path)?;
    out.write_all(bytes)?;
    out.sync_all()
}

/// Replaces `file` with `text` at once (a new file renamed over it).
fn write_private(file: &Path, text: &str) -> Result<(), Failure> {
    let new = temporary(file);
    let written = write_new(&new, text.as_bytes()).and_then(|()| std::fs::rename(&new, file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&new);
        return Err(cannot_write(file, &e));
    }
    Ok(())
}

/// Where this command's Guid came from, to keep a rotated Guid for the next command.
pub(crate) struct GuidSource {
    guid: Guid,
    affinity: Option<Affinity>,
    file: Option<PathBuf>,
}

/// The Guid file's text: the Guid, and the affinity on a second line if any.
fn read_guid_file(file: &Path, text: &str) -> Result<(Guid, Option<Affinity>), Failure> {
    if text.trim().is_empty() {
        return Err(Failure::Input(format!(
            "the Guid file {} is empty: sign in again with `ccgw sign-in` (add --take-over \
             if the gateway still holds the session)",
            file.display()
        )));
    }
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let guid = Guid::new(lines.next().unwrap_or_default())
        .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
    let affinity = lines
        .next()
        .map(Affinity::new)
        .transpose()
        .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
    Ok((guid, affinity))
}

impl GuidSource {
    /// `CCGW_GUID`, else the Guid file.
    pub(crate) fn find(explicit: &Option<PathBuf>, agent: AgentId) -> Result<Self, Failure> {
        if let Ok(text) = std::env::var(GUID_ENV) {
            let guid = Guid::new(text).map_err(|e| Failure::Input(format!("{GUID_ENV}: {e}")))?;
            return Ok(Self {
                guid,
                affinity: None,
                file: None,
            });
        }
        let file = guid_path(explicit, agent)?;
        let text = std::fs::read_to_string(&file).map_err(|_| {
            Failure::Input(format!(
                "no Guid for agent {agent}: {} is missing; sign in with `ccgw sign-in` or set CCGW_GUID",
                file.display()
            ))
        })?;
        let (guid, affinity) = read_guid_file(&file, &text)?;
        Ok(Self {
            guid,
            affinity,
            file: Some(file),
        })
    }

    pub(crate) fn guid(&self) -> &Guid {
        &self.guid
    }

    pub(crate) fn affinity(&self) -> Option<&Affinity> {
        self.affinity.as_ref()
    }

    /// Keeps the agent's newest Guid (dynamic authentication rotates it) for next time;
    /// writes the file only when the Guid changed since it was last read or written.
    pub(crate) fn save(&mut self, agent: &ccgw::Agent) -> Result<(), Failure> {
        match (&self.file, agent.guid()) {
            (Some(file), Some(current))
                if current != self.guid || agent.affinity() != self.affinity =>
            {
                let affinity = agent.affinity();
                store_guid(file, &current, affinity.as_ref())?;
                self.guid = current;
                self.affinity = affinity;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// For a long-running command (`ccgw events`) while other commands for the same agent
    /// run: keeps the newest Guid in the file and in the agent. A Guid this process got
    /// (a rotation on its answers) is written; otherwise one another command wrote (a
    /// rotation on its answers, which this process did not see) is taken.
    pub(crate) fn sync(&mut self, agent: &ccgw::Agent) -> Result<(), Failure> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if agent.guid().is_some_and(|current| current != self.guid) {
            return self.save(agent);
        }
        let on_disk = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| read_guid_file(file, &text).ok())
            .map(|(guid, _)| guid);
        if let Some(guid) = on_disk.filter(|g| *g != self.guid) {
            tracing::info!(
                agent_id = agent.id().get(),
                "taking the Guid another command stored"
            );
            agent.set_guid(&guid);
            self.guid = guid;
        }
        Ok(())
    }

    /// After sign-out the Guid is worthless: remove its file.
    pub(crate) fn forget(&self) {
        if let Some(file) = &self.file {
            let _ = std::fs::remove_file(file);
        }
    }
}
