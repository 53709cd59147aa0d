//! The Kubernetes manifests of deploy/kubernetes/ as a cluster would take them, offline:
//! PyPI's `kubernetes-validate` (installed into the test venv by scripts/test.sh) accepts
//! every manifest against the API schemas of Kubernetes 1.33 and 1.37 in strict mode (an
//! unknown field is an error) and refuses a broken copy; the init container's assemble.sh,
//! run by `sh` as the pod runs it, turns the ConfigMap's config and the Secret's fragment
//! into a config that `media-edge check-config` accepts; and the pod's grace period covers
//! the preStop pause plus the config's drain timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edge_suite::turn::{media_edge_binary, ScratchDir};
use edge_suite::{python, require_program};

/// The Kubernetes versions whose schemas the manifests must pass: an older supported
/// release and the newest kubernetes-validate knows.
const VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

fn manifests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

fn manifest(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// `kubernetes-validate --strict -k VERSION files...`.
fn validate(version: &str, files: &[PathBuf]) -> Output {
    let venv_bin = python().parent().unwrap().to_path_buf();
    Command::new(venv_bin.join("kubernetes-validate"))
        .args(["--strict", "-k", version])
        .args(files)
        .output()
        .expect("kubernetes-validate is in the test venv (tests/python/requirements.txt)")
}

/// The block scalar `key: |` of a manifest, unindented.
fn block(yaml: &str, key: &str) -> String {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != format!("{key}: |"));
    let head = lines.next().unwrap_or_else(|| panic!("no {key}: | block"));
    let indent = head.len() - head.trim_start().len() + 2;
    let mut text = String::new();
    for line in lines {
        if !line.trim().is_empty() && line.len() - line.trim_start().len() < indent {
            break;
        }
        text.push_str(line.get(indent..).unwrap_or(""));
        text.push('\n');
    }
    text
}

/// The number after `key` (`key: 360`, `key = 300`) on its first line in `text`.
fn number(text: &str, key: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("no {key}"));
    line.trim_start()[key.len()..]
        .trim_start_matches([':', '=', ' '])
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn the_manifests_pass_the_kubernetes_schemas() {
    let files = manifests();
    for version in VERSIONS {
        let out = validate(version, &files);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "Kubernetes {version}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for file in &files {
            let name = file.file_name().unwrap().to_str().unwrap();
            assert!(
                stdout.contains(&format!("{name} passed")),
                "{name}: {stdout}"
            );
        }
    }
    // The validator can say no: a misspelt field and a wrong type in a copy.
    let dir = ScratchDir::new("k8s");
    let broken = dir.path().join("daemonset.yaml");
    let text = manifest("daemonset.yaml")
        .replace("hostNetwork: true", "hostNetwork: \"yes\"")
        .replace("terminationGracePeriodSeconds:", "terminationGracePeriod:");
    std::fs::write(&broken, text).unwrap();
    let out = validate(VERSIONS[1], &[broken]);
    assert!(!out.status.success(), "a broken DaemonSet passed: {out:?}");
}

#[test]
fn the_configmap_config_passes_check_config() {
    let dir = ScratchDir::new("k8s-config");
    let (config, secrets, node) = (
        dir.path().join("config"),
        dir.path().join("secrets"),
        dir.path().join("node"),
    );
    for d in [&config, &secrets, &node] {
        std::fs::create_dir_all(d).unwrap();
    }
    let configmap = manifest("configmap.yaml");
    std::fs::write(
        config.join("media-edge.toml"),
        block(&configmap, "media-edge.toml"),
    )
    .unwrap();
    std::fs::write(config.join("assemble.sh"), block(&configmap, "assemble.sh")).unwrap();
    let secret = manifest("secret.yaml");
    std::fs::write(secrets.join("secrets.toml"), block(&secret, "secrets.toml")).unwrap();
    std::fs::write(node.join("public-ip"), "203.0.113.10\n").unwrap();
    let out_path = dir.path().join("media-edge.toml");

    // The init container's step, by the same script.
    let assemble = |out: &Path| {
        Command::new(require_program("sh"))
            .arg(config.join("assemble.sh"))
            .env("NODE_IP", "10.20.0.5")
            .env("CONFIG_DIR", &config)
            .env("SECRET_DIR", &secrets)
            .env("PUBLIC_IP_FILE", node.join("public-ip"))
            .env("OUT", out)
            .output()
            .unwrap()
    };
    let out = assemble(&out_path);
    assert!(out.status.success(), "assemble.sh: {out:?}");
    let assembled = std::fs::read_to_string(&out_path).unwrap();
    assert!(!assembled.contains('@'), "placeholders left:\n{assembled}");

    let out = Command::new(media_edge_binary())
        .args(["check-config", "--config"])
        .arg(&out_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check-config refused the ConfigMap's config: {}\n{assembled}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("OK"), "{stdout}");
    // The Secret's parts arrived: the REST secret and the HTTPS API on the node address.
    assert!(stdout.contains("1 shared secrets"), "{stdout}");
    assert!(stdout.contains("api https://10.20.0.5:8443"), "{stdout}");

    // A bad address from the node is refused before media-edge sees it.
    std::fs::write(node.join("public-ip"), "203.0.113.10/g; s/x/y\n").unwrap();
    let out = assemble(&dir.path().join("bad.toml"));
    assert!(!out.status.success(), "assemble.sh took a bad address");

    // SIGKILL comes after the preStop pause plus the longest drain.
    let daemonset = manifest("daemonset.yaml");
    let grace = number(&daemonset, "terminationGracePeriodSeconds");
    let pause = number(&daemonset, "seconds");
    let drain = number(&block(&configmap, "media-edge.toml"), "timeout");
    assert!(
        grace > pause + drain,
        "terminationGracePeriodSeconds {grace} <= preStop {pause} + drain.timeout {drain}"
    );
}
