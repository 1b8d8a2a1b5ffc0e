//! The Guid file: replaced at once and readable by its owner only whatever was there
//! before, and a sign-in never leaves an agent signed in without it.

mod common;

use common::{Env, PASSWORD, read_guid, run};

/// An older Guid file, world-readable, open in a reader: the sign-in writes a new file
/// (mode 0600) and renames it over, so the reader still sees the whole old one.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_guid_file_is_replaced_whole_and_private() {
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let env = Env::start().await;
    let file = env.guid_file(101);
    std::fs::write(&file, "OLD-GUID.AgentGateway0\n").expect("old file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("mode");
    let before = std::fs::metadata(&file).expect("old file").ino();
    let mut reader = std::fs::File::open(&file).expect("a reader");

    env.run("sign-in --agent 101 --phone 40101", 0, &[PASSWORD]);
    let meta = std::fs::metadata(&file).expect("Guid file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_ne!(meta.ino(), before, "a new file, renamed over the old one");
    let guid = read_guid(&file);
    assert_eq!(Some(guid), env.sim.handle().current_guid(101));
    let mut old = String::new();
    reader.read_to_string(&mut old).expect("read");
    assert_eq!(
        old, "OLD-GUID.AgentGateway0\n",
        "the reader saw the old file whole"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&env.dir)
        .expect("state dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// A state directory that is a file: refused before anything is sent (exit 2).
#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_state_directory_is_refused_before_signing_in() {
    let env = Env::start().await;
    let not_a_dir = env.dir.join("a-file");
    std::fs::write(&not_a_dir, "").expect("file");
    let mut sign_in = env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]);
    sign_in.env("CCGW_STATE_DIR", &not_a_dir);
    let (_, err) = run(sign_in, 2, &[PASSWORD]);
    assert!(
        err.contains("cannot write the Guid file") && err.contains("CCGW_STATE_DIR"),
        "{err}"
    );
    assert_eq!(env.sim.handle().stats().logins, 0, "nothing was sent");
    assert_eq!(env.sim.handle().agent_state(101), None);
}

/// A Guid file that cannot be replaced once the gateway took the sign-in (the path is a
/// directory): the agent is signed out again, and the message says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_guid_that_cannot_be_kept_is_signed_out_again() {
    let env = Env::start().await;
    let blocked = env.dir.join("blocked.guid");
    std::fs::create_dir(&blocked).expect("a directory in the way");
    std::fs::write(blocked.join("keep"), "").expect("not empty");
    let mut sign_in = env.ccgw(&["sign-in", "--agent", "101", "--phone", "40101"]);
    sign_in.arg("--guid-file").arg(&blocked);
    let (_, err) = run(sign_in, 1, &[PASSWORD]);
    assert!(
        err.contains("cannot write the Guid file") && err.contains("signed out again"),
        "{err}"
    );
    assert_eq!(
        env.sim.handle().stats().logins,
        1,
        "the gateway took the sign-in"
    );
    assert_eq!(env.sim.handle().agent_state(101), None, "and it was undone");
}
