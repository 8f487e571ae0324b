//! Loopwork's example programs, built and found for tests that run them as
//! subprocesses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding the built examples, building them first.
///
/// `cargo test --workspace` builds `loopwork`'s examples already, but
/// `cargo test -p loopwork-tests` does not, and an example built earlier may
/// be stale; `cargo build` brings them up to date (a no-op when they are) in
/// the same target directory and profile as this test binary.
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // .../<target>/<profile>/deps/parity_examples-<hash>
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("<target>");
        let profile = profile_dir.file_name().and_then(|name| name.to_str()).expect("a profile name");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "-p", "loopwork", "--examples", "--manifest-path"]).arg(&manifest);
        match profile {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let status = build.env("CARGO_TARGET_DIR", target_dir).status().expect("run cargo build");
        assert!(status.success(), "building loopwork's examples failed: {status}");
        profile_dir.join("examples")
    })
}

/// The path of example `name`'s executable, built up to date.
pub fn path(name: &str) -> PathBuf {
    dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}
