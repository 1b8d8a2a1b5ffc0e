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
