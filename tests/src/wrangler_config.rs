//! The wrangler config the harness starts relays from: the project's `wrangler.toml` without
//! its `[build]` table.
//!
//! With `[build]`, wrangler runs the build command again when its file watcher becomes ready,
//! which can be after `/health` has already answered; while that (no-op) rebuild runs, its
//! proxy is paused: it answers a non-GET request 503 "Your worker restarted mid-request" and
//! holds GETs. Tests saw both (a 503 on a first `PUT`, page loads that never finished). The
//! harness builds `worker/build` itself, once per process, and starts wrangler from this copy,
//! which keeps everything else of the project's config. `wrangler dev` for people keeps its
//! live rebuild.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::repo_root;

/// Name of the generated config, in the repository root so that its relative paths (`main`,
/// `[assets] directory`) mean what they mean in `wrangler.toml` (gitignored).
const FILE_NAME: &str = ".wrangler-harness.toml";

/// `wrangler.toml`'s text without the `[build]` table (from its header to the next header).
pub fn without_build_table(config: &str) -> String {
    let mut out = String::with_capacity(config.len());
    let mut in_build = false;
    for line in config.lines() {
        let header = line.trim_start();
        if header.starts_with('[') {
            in_build = header.trim_end() == "[build]";
        }
        if !in_build {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Builds `worker/build` (skipped when fresh) and writes the harness config, once per process;
/// returns the config's path.
pub fn harness_config() -> PathBuf {
    static CONFIG: OnceLock<PathBuf> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let root = repo_root();
            let status = Command::new("bash")
                .arg(root.join("scripts/build-worker.sh"))
                .current_dir(&root)
                .status()
                .expect("run scripts/build-worker.sh");
            assert!(status.success(), "scripts/build-worker.sh failed ({status})");
            let source =
                std::fs::read_to_string(root.join("wrangler.toml")).expect("read wrangler.toml");
            let path = root.join(FILE_NAME);
            // Test binaries run in parallel: each writes its own file and renames it into place.
            let tmp = root.join(format!("{FILE_NAME}.{}", std::process::id()));
            std::fs::write(&tmp, without_build_table(&source))
                .expect("write harness wrangler config");
            std::fs::rename(&tmp, &path).expect("move harness wrangler config into place");
            path
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_table_is_dropped_and_everything_else_kept() {
        let config = "name = \"x\"\nmain = \"a.js\"\n\n[build]\ncommand = \"b\"\nwatch_dir = [\"c\"]\n\n[assets]\ndirectory = \"d\"\n";
        let out = without_build_table(config);
        assert_eq!(out, "name = \"x\"\nmain = \"a.js\"\n\n[assets]\ndirectory = \"d\"\n");
    }

    #[test]
    fn the_projects_config_has_a_build_table_and_keeps_its_bindings() {
        let source = std::fs::read_to_string(repo_root().join("wrangler.toml")).unwrap();
        assert!(source.contains("\n[build]\n"), "wrangler.toml has no [build] table any more");
        let out = without_build_table(&source);
        assert!(!out.contains("[build]") && !out.contains("build-worker.sh\""));
        for kept in
            ["main = ", "[assets]", "class_name = \"Conversation\"", "[[migrations]]", "[vars]"]
        {
            assert!(out.contains(kept), "{kept} missing from the harness config");
        }
    }
}
