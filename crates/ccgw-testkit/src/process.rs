//! Child processes of tests and benchmarks (a simulator, mostly): killed and reaped when
//! dropped, their first JSON line read; and this process's memory as Linux reports it.

use std::io::{BufRead as _, BufReader, Lines};
use std::process::{ChildStdout, Command, Stdio};

/// A child process, killed and reaped when dropped.
#[derive(Debug)]
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a child prints, line by line.
pub type Output = Lines<BufReader<ChildStdout>>;

impl Child {
    /// Starts `command` with its standard output piped; returns the child and its
    /// output, e.g. for [`json_line`].
    pub fn spawn(command: &mut Command) -> std::io::Result<(Child, Output)> {
        let mut child = Child(command.stdout(Stdio::piped()).spawn()?);
        let stdout = child
            .0
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("the child's standard output is not piped"))?;
        Ok((child, BufReader::new(stdout).lines()))
    }
}

/// The next JSON object printed (a line may start with other text, e.g. the test
/// harness's `test name ... `); `None` if the output ends first.
pub fn json_line(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> Option<serde_json::Value> {
    lines.map_while(Result::ok).find_map(|line| {
        line.find('{')
            .and_then(|at| serde_json::from_str(&line[at..]).ok())
    })
}

/// CPU seconds (user and system) from a `/proc` stat file: `/proc/self/stat` for this
/// process, `/proc/thread-self/stat` for the calling thread, `/proc/<pid>/stat` for
/// another; 0 where Linux does not report it.
pub fn cpu_seconds(stat_file: &str) -> f64 {
    // Fields 14 and 15 (utime, stime) in clock ticks, after the ")" of the name.
    let Ok(stat) = std::fs::read_to_string(stat_file) else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// A `/proc/self/status` figure of this process in KiB: `"VmRSS"` (resident now) or
/// `"VmHWM"` (peak resident); 0 where Linux does not report it.
pub fn memory_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(key)?
                    .strip_prefix(':')?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// A simulator running as a child process — the `ccgw-sim` binary, `ccgw sim`, or
/// `cargo run -p ccgw-sim --` — listening on a free loopback port and describing itself
/// in its JSON start line; stopped when dropped. The one way the workspace starts the
/// simulator as a process.
#[derive(Debug)]
pub struct SimProcess {
    _child: Child,
    start: serde_json::Value,
}

impl SimProcess {
    /// Runs `command` (the simulator, its arguments so far) with `--listen 127.0.0.1:0
    /// --json --cert-dir <cert_dir>` and `args`, and reads its start line.
    pub fn start(
        mut command: Command,
        cert_dir: &std::path::Path,
        args: &[&str],
    ) -> std::io::Result<SimProcess> {
        command
            .args(["--listen", "127.0.0.1:0", "--json", "--cert-dir"])
            .arg(cert_dir)
            .args(args);
        let (child, mut output) = Child::spawn(&mut command)?;
        let start = json_line(&mut output).ok_or_else(|| {
            std::io::Error::other("the simulator ended before printing its start line")
        })?;
        Ok(SimProcess {
            _child: child,
            start,
        })
    }

    /// Its base URL (`https://127.0.0.1:<port>`).
    pub fn base_url(&self) -> &str {
        self.start["base_url"].as_str().unwrap_or_default()
    }

    /// The file holding its CA (none over plain HTTP).
    pub fn ca_file(&self) -> Option<&str> {
        self.start["ca_file"].as_str()
    }

    /// The Guid of `agent`, signed in at start (`--sign-in`).
    pub fn guid(&self, agent: u32) -> Option<&str> {
        self.start["guids"][agent.to_string()].as_str()
    }

    /// The whole start line.
    pub fn start_line(&self) -> &serde_json::Value {
        &self.start
    }
}

/// A fresh directory under the system's temporary directory, named after `name`: no two
/// calls share it, and it is removed with everything in it when the value is dropped.
pub fn scratch_dir(name: &str) -> std::io::Result<Scratch> {
    tempfile::Builder::new()
        .prefix(&format!("ccgw-{name}-"))
        .tempdir()
        .map(Scratch)
}

/// A directory of [`scratch_dir`]'s, removed when dropped; it derefs to its path.
#[derive(Debug)]
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.path().as_os_str()
    }
}
