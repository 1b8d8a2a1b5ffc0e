//! The file-descriptor limit, raised by the bench itself for tens of thousands of
//! connections (the simulators and sides it starts inherit it).

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// The limit the bench asks for: 50,000 agents hold a descriptor each, and more.
const WANTED: u64 = 200_000;

/// Raises the soft limit (and, where allowed, the hard one) to at least [`WANTED`];
/// the soft limit in force afterwards.
pub(crate) fn raise_limit() -> u64 {
    let now = getrlimit(Resource::Nofile);
    let at_least = |x: Option<u64>| Some(x.map_or(WANTED, |x| x.max(WANTED)));
    let raised = Rlimit {
        current: at_least(now.current),
        maximum: at_least(now.maximum),
    };
    // Raising the hard limit needs privilege; without it, the soft one goes up to it.
    if setrlimit(Resource::Nofile, raised).is_err() {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: now.maximum,
                maximum: now.maximum,
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Descriptors a process needs beside its agents' connections.
const MARGIN: u64 = 1_000;

/// The agent counts to measure under `limit`, in order: a count that needs more
/// descriptors is reported as not measured (with why), and the largest count the limit
/// allows, in thousands, is measured in its place (once).
pub(crate) fn counts(wanted: &[u32], limit: u64) -> Vec<Result<u32, (u32, String)>> {
    let most = u32::try_from(limit.saturating_sub(MARGIN) / 1_000 * 1_000).unwrap_or(u32::MAX);
    let mut counts = Vec::new();
    let mut capped = false;
    for &n in wanted {
        if u64::from(n) + MARGIN <= limit {
            counts.push(Ok(n));
            continue;
        }
        counts.push(Err((
            n,
            format!(
                "the file-descriptor limit is {limit} and could not be raised (the hard limit; raising it needs CAP_SYS_RESOURCE)"
            ),
        )));
        if !capped && most > 0 && !wanted.contains(&most) {
            counts.push(Ok(most));
            capped = true;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_beyond_the_limit_give_way_to_the_largest_that_fits() {
        let counts = super::counts(&[1_000, 10_000, 20_000, 50_000], 20_000);
        let measured: Vec<u32> = counts.iter().filter_map(|c| c.clone().ok()).collect();
        assert_eq!(measured, [1_000, 10_000, 19_000]);
        assert_eq!(counts.iter().filter(|c| c.is_err()).count(), 2);
        let all = super::counts(&[1_000, 50_000], 200_000);
        assert!(all.iter().all(Result::is_ok));
    }
}
