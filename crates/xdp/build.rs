//! Builds the BPF object (bpf/turn_xdp.c) with clang into OUT_DIR, where src/lib.rs
//! includes it. Needs Debian's `clang` and `libbpf-dev` (scripts/test.sh installs both).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "bpf/turn_xdp.c";
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-env-changed=CLANG");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("turn_xdp.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());
    if !std::path::Path::new("/usr/include/bpf/bpf_helpers.h").exists() {
        fail("the libbpf headers (/usr/include/bpf/bpf_helpers.h) are missing: apt-get install libbpf-dev");
    }
    // The kernel UAPI headers include <asm/types.h>, which Debian keeps under the multiarch
    // directory of the host.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        other => fail(&format!("no BPF build for target arch {other:?}")),
    };
    let status = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-Werror", "-target", "bpf"])
        .arg(format!("-I/usr/include/{multiarch}"))
        .args(["-c", source, "-o"])
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("{clang} failed on {source} ({s})")),
        Err(e) => fail(&format!(
            "cannot run {clang:?} ({e}): the BPF program needs clang: apt-get install clang libbpf-dev"
        )),
    }
}

fn fail(why: &str) -> ! {
    eprintln!("edge-xdp build: {why}");
    std::process::exit(1)
}
