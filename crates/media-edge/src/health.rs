//! `media-edge health`: a probe for container healthchecks, which cannot run a shell or
//! curl in an image holding only the binary. It asks the admin listener of the same
//! configuration for `/readyz` over plain HTTP/1.1 and reports in one line: ready (exit 0)
//! or why not (exit 1): no `[admin]` section, nothing listening, a timeout, or the
//! listener's own answer (`starting`, `draining`).

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::config::Config;

/// Most bytes of an answer read: `/readyz` answers a few words.
const MAX_ANSWER: u64 = 4096;

/// Where the probe connects for a listener bound to `listen`: the same port, and for a
/// wildcard address the loopback address of its family.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Probes `/readyz` of `config`'s admin listener, waiting at most `timeout` for each step;
/// the line to print when ready, an error saying why not otherwise.
pub fn probe(config: &Config, timeout: Duration) -> anyhow::Result<String> {
    let Some(admin) = &config.admin else {
        bail!("not ready: no [admin] section, so there is no /readyz to probe");
    };
    if admin.tls.is_some() {
        bail!(
            "cannot probe: admin.tls is set and this probe speaks plain HTTP; probe \
             https://{}/readyz with an HTTPS client",
            admin.listen
        );
    }
    let to = target(admin.listen);
    let url = format!("http://{to}/readyz");
    let mut stream = TcpStream::connect_timeout(&to, timeout)
        .with_context(|| format!("not ready: cannot connect to {url}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("not ready: cannot send to {url}"))?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .with_context(|| format!("not ready: no answer from {url}"))?;
    let (status, body) =
        parse(&answer).with_context(|| format!("not ready: {url} did not answer in HTTP/1.1"))?;
    if status == 200 {
        Ok(format!("ready: {url} answered 200 {body}"))
    } else {
        bail!("not ready: {url} answered {status} {body}")
    }
}

/// The status code and the first line of the body of an HTTP/1.1 answer.
fn parse(answer: &[u8]) -> anyhow::Result<(u16, String)> {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .context("no status line")?;
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| body.lines().next())
        .unwrap_or_default()
        .trim()
        .to_owned();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_wildcard_listener_is_probed_on_loopback() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(target(addr("0.0.0.0:9480")), addr("127.0.0.1:9480"));
        assert_eq!(target(addr("[::]:9480")), addr("[::1]:9480"));
        assert_eq!(target(addr("10.0.0.5:9480")), addr("10.0.0.5:9480"));
    }

    #[test]
    fn answers_are_read_for_status_and_reason() {
        let draining = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\n\r\ndraining\n";
        assert_eq!(parse(draining).unwrap(), (503, "draining".to_owned()));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\n\r\nready\n").unwrap(),
            (200, "ready".to_owned())
        );
        assert!(parse(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
