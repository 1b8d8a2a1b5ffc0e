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

/// Whether `agents` connections (and a margin) need more descriptors than `limit`.
pub(crate) fn too_many(agents: u32, limit: u64) -> bool {
    u64::from(agents) + 1_000 > limit
}
