//! The deploy files against the binary: the container's entry point and command, the ECS
//! command with its inline configuration, and the EKS ConfigMap's configuration. (The linters
//! run in ./scripts/test; the event rules are checked against moto by tests/check_rules.py.)
#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used)]

use std::process::Command;

use driftwatch::config::Config;
use driftwatch::testing::workspace_root as root;

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

/// The JSON array after `instruction` in the Dockerfile (exec form).
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let line = dockerfile.lines().rev().find(|l| l.starts_with(&format!("{instruction} ["))).unwrap();
    serde_json::from_str(&line[instruction.len()..]).unwrap()
}

#[test]
fn the_container_runs_serve_with_its_config_file() {
    let dockerfile = read("deploy/Dockerfile");
    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT");
    assert_eq!(entrypoint, ["/usr/local/bin/driftwatch"]);
    assert!(dockerfile.contains("COPY --from=build /driftwatch /usr/local/bin/driftwatch"));
    assert!(dockerfile.lines().any(|l| l == "USER 65532:65532"), "a numeric non-root user");
    let cmd = exec_form(&dockerfile, "CMD");
    // The binary accepts the command; without the mounted file it says which file is missing.
    let out =
        Command::new(env!("CARGO_BIN_EXE_driftwatch")).args(&cmd).env_remove("DRIFTWATCH_CONFIG").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/etc/driftwatch/driftwatch.toml"), "{stderr}");
}

#[test]
fn the_ecs_command_reads_its_config_from_the_environment() {
    let template = read("deploy/ecs/driftwatch.yaml");
    let line = template.lines().find(|l| l.trim_start().starts_with("Command: [serve")).unwrap();
    let inner = line.trim().trim_start_matches("Command: [").trim_end_matches(']');
    let args: Vec<&str> = inner.split(", ").collect();
    assert_eq!(args, ["serve", "--shutdown-timeout", "20s"]);
    assert!(template.contains("- Name: DRIFTWATCH_CONFIG_TEXT"));
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(&args)
        .env_remove("DRIFTWATCH_CONFIG")
        .env("DRIFTWATCH_CONFIG_TEXT", "[[monitor]]\nendpoint = \"a\"\nwindow = \"0s\"\n")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("DRIFTWATCH_CONFIG_TEXT") && stderr.contains("window"), "{stderr}");
    // And with neither a file nor the text, it says what to set.
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(&args)
        .env_remove("DRIFTWATCH_CONFIG")
        .env_remove("DRIFTWATCH_CONFIG_TEXT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("DRIFTWATCH_CONFIG_TEXT"), "{stderr}");
}

#[test]
fn the_eks_configmap_holds_a_valid_config() {
    let manifest = read("deploy/eks/driftwatch.yaml");
    let mut lines = manifest.lines().skip_while(|l| !l.trim_start().starts_with("driftwatch.toml: |"));
    let header = lines.next().unwrap();
    let indent = header.len() - header.trim_start().len() + 2;
    let toml: String = lines
        .take_while(|l| l.is_empty() || l.len() - l.trim_start().len() >= indent)
        .map(|l| format!("{}\n", l.get(indent..).unwrap_or("")))
        .collect();
    let config = Config::from_toml(&toml, "deploy/eks/driftwatch.yaml", std::iter::empty()).unwrap();
    assert_eq!(config.monitors.len(), 1);
    assert_eq!(config.server.listen.port(), 9090, "the port the probes and the Service use");
    assert!(manifest.contains("args: [serve, --config, /etc/driftwatch/driftwatch.toml"));
    assert!(manifest.contains("mountPath: /etc/driftwatch"));
}

/// The build stage's context: what `COPY` takes from the repository must be let through by
/// `.dockerignore`, and with only that the manifest must load (every declared target's file
/// present), or `docker build` fails.
#[test]
fn the_image_build_context_holds_what_the_manifest_needs() {
    let root = root();
    let dockerfile = read("deploy/Dockerfile");
    let ignore = read(".dockerignore");
    let allowed: Vec<&str> = ignore.lines().filter_map(|l| l.trim().strip_prefix('!')).collect();
    assert!(ignore.lines().any(|l| l.trim() == "*"), "the context starts from nothing");
    let copied: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
        .flat_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().skip(1).collect();
            parts[..parts.len() - 1].to_vec()
        })
        .collect();
    assert!(copied.contains(&"Cargo.toml") && copied.contains(&"src"), "{copied:?}");
    let ctx = tempfile::tempdir().unwrap();
    for p in &copied {
        assert!(allowed.contains(p), "{p} is copied but .dockerignore leaves it out");
        let status = Command::new("cp").arg("-r").arg(root.join(p)).arg(ctx.path().join(p)).status().unwrap();
        assert!(status.success(), "copying {p}");
    }
    let out = Command::new(env!("CARGO"))
        // `fetch` parses every target (unlike `metadata`); offline and for this platform only,
        // it needs nothing the test build did not already download.
        .args(["fetch", "--offline", "--target", host_triple().as_str(), "--manifest-path"])
        .arg(ctx.path().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the manifest does not load from the image's context: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn host_triple() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().find_map(|l| l.strip_prefix("host: ")).unwrap().to_owned()
}
