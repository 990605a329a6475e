//! The workspace's programs a harness starts (`stockd`) or a test runs (`stockctl`,
//! `stockbench`). They are found next to the running executable, in `target/<profile>/` (a
//! test runs from `deps/` below it). No package of the tests depends on the packages that own
//! them, so cargo does not build them for a test run: [`BUILD_COMMAND`] does, and `make test`
//! runs it first.

use std::path::PathBuf;

/// Builds every binary with the same features as `make test` (so RocksDB is compiled once).
pub const BUILD_COMMAND: &str = "cargo build --workspace --all-targets";

/// The path of the workspace binary `name` beside the running executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable's path");
    let mut dir = exe.parent().expect("a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first ({BUILD_COMMAND}, with --release for target/release)",
        path.display()
    );
    path
}

/// The stockd to start: `$STOCKD` when set (another build), otherwise the one beside the
/// running executable.
pub fn stockd_binary() -> PathBuf {
    match std::env::var_os("STOCKD") {
        Some(path) => PathBuf::from(path),
        None => binary("stockd"),
    }
}
