//! systemd's readiness protocol (sd_notify(3)) for `Type=notify`: one datagram per state
//! change to the unix socket named by `NOTIFY_SOCKET` (a path, or `@name` for the abstract
//! namespace). Without the variable (not under systemd) nothing is sent.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (`READY=1`, `STOPPING=1`, `RELOADING=1`, `STATUS=...`, one per line) to
/// systemd, if the process runs under it. A failure is logged, never fatal: the service
/// works the same, only systemd's view of it lags.
pub fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&target, state) {
        tracing::warn!(
            "sd_notify {:?} to NOTIFY_SOCKET={}: {e}",
            state,
            target.to_string_lossy()
        );
    }
}

fn send(target: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::net::SocketAddr;

    let socket = UnixDatagram::unbound()?;
    let bytes = target.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(target))?,
    };
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}
