//! A small blocking HTTP/1.1 client for media-edge's control API (JSON over one
//! keep-alive connection, bearer token). Set-up is not the hot path: a plain `TcpStream`
//! with timeouts, responses parsed by `httparse` and bounded in size.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use crate::Error;

/// Longest response accepted (headers and body).
const MAX_RESPONSE: usize = 1 << 20;
/// Per-read and per-write timeout.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The control API at one address.
#[derive(Debug)]
pub struct ApiClient {
    addr: SocketAddr,
    token: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl ApiClient {
    /// A client for the API at `addr`, authenticating with `token`.
    pub fn new(addr: SocketAddr, token: &str) -> ApiClient {
        ApiClient {
            addr,
            token: token.to_owned(),
            stream: None,
            buf: Vec::with_capacity(8_192),
        }
    }

    /// Waits until the API accepts a TCP connection (it may still be starting, as in the
    /// compose test), trying every 100 ms for up to `patience`. The connection is kept for
    /// the first request.
    pub fn wait_until_up(&mut self, patience: Duration) -> Result<(), Error> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            match TcpStream::connect_timeout(&self.addr, IO_TIMEOUT) {
                Ok(s) => {
                    s.set_read_timeout(Some(IO_TIMEOUT))
                        .and_then(|()| s.set_write_timeout(Some(IO_TIMEOUT)))
                        .and_then(|()| s.set_nodelay(true))
                        .map_err(|e| self.unreachable(e))?;
                    self.stream = Some(s);
                    return Ok(());
                }
                Err(e) if std::time::Instant::now() >= deadline => return Err(self.unreachable(e)),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn unreachable(&self, e: std::io::Error) -> Error {
        Error::Api {
            method: "CONNECT",
            url: format!("http://{}", self.addr),
            problem: e.to_string(),
        }
    }

    /// Sends one request; returns the status and the JSON body (`Null` when empty).
    /// A connection the server closed between requests is reopened once.
    pub fn request(
        &mut self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), Error> {
        let url = format!("http://{}{path}", self.addr);
        let fail = |problem: String| Error::Api {
            method,
            url: url.clone(),
            problem,
        };
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            self.token,
            body.len()
        );
        let reused = self.stream.is_some();
        match self.exchange(&head, &body) {
            Ok(r) => r.map_err(fail),
            Err(_) if reused => {
                self.stream = None;
                self.exchange(&head, &body)
                    .map_err(|e| fail(e.to_string()))?
                    .map_err(fail)
            }
            Err(e) => Err(fail(e.to_string())),
        }
    }

    /// One exchange: `Err` for transport failures (worth one retry on a fresh connection),
    /// `Ok(Err)` for a response that cannot be used.
    fn exchange(
        &mut self,
        head: &str,
        body: &str,
    ) -> std::io::Result<Result<(u16, Value), String>> {
        let stream = match &mut self.stream {
            Some(s) => s,
            None => {
                let s = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                s.set_nodelay(true)?;
                self.stream.insert(s)
            }
        };
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.as_bytes())?;
        self.buf.clear();
        let mut chunk = [0u8; 8_192];
        loop {
            match parse_response(&self.buf) {
                Parsed::Complete {
                    status,
                    body_start,
                    body_len,
                    close,
                } => {
                    let json = match &self.buf[body_start..body_start + body_len] {
                        [] => Ok(Value::Null),
                        b => serde_json::from_slice(b)
                            .map_err(|e| format!("status {status}, body is not JSON: {e}")),
                    };
                    if close {
                        self.stream = None;
                    }
                    return Ok(json.map(|v| (status, v)));
                }
                Parsed::Invalid(problem) => {
                    self.stream = None;
                    return Ok(Err(problem));
                }
                Parsed::Partial => {}
            }
            if self.buf.len() >= MAX_RESPONSE {
                self.stream = None;
                return Ok(Err(format!("response longer than {MAX_RESPONSE} bytes")));
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Partial,
    Invalid(String),
    Complete {
        status: u16,
        body_start: usize,
        body_len: usize,
        close: bool,
    },
}

/// Parses a response with a `Content-Length` body (what the API sends; chunked bodies
/// are refused).
fn parse_response(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let body_start = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(e) => return Parsed::Invalid(format!("malformed HTTP response: {e}")),
    };
    let status = response.code.unwrap_or(0);
    let mut body_len = 0usize;
    let mut close = false;
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) if n <= MAX_RESPONSE => body_len = n,
                _ => return Parsed::Invalid(format!("bad Content-Length {value:?}")),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Invalid(format!("Transfer-Encoding {value:?} not supported"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    if buf.len() < body_start + body_len {
        return Parsed::Partial;
    }
    Parsed::Complete {
        status,
        body_start,
        body_len,
        close,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn complete_partial_and_invalid_responses() {
        let ok = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{\"id\":1}\n";
        assert_eq!(
            parse_response(ok),
            Parsed::Complete {
                status: 201,
                body_start: ok.len() - 9,
                body_len: 9,
                close: false
            }
        );
        for cut in 0..ok.len() {
            assert_eq!(parse_response(&ok[..cut]), Parsed::Partial, "cut at {cut}");
        }
        let bad = [
            &b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999\r\n\r\n",
            b"garbage\r\n\r\n",
        ];
        for b in bad {
            assert!(
                matches!(parse_response(b), Parsed::Invalid(_)),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        let closing = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        assert!(matches!(
            parse_response(closing),
            Parsed::Complete {
                status: 204,
                close: true,
                ..
            }
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 99u64;
        for _ in 0..20_000 {
            let len = (x % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    b"HTTP/1.1 200 OK\r\ncontent-length: 3\n:x"[(x >> 40) as usize % 37]
                })
                .collect();
            let _ = parse_response(&bytes);
        }
    }

    #[test]
    fn talks_to_a_real_socket_and_reconnects() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for reply in [
                &b"HTTP/1.1 201 Created\r\ncontent-length: 13\r\nconnection: close\r\n\r\n{\"id\":\"s-1\"}\n"[..],
                b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
            ] {
                let (mut s, _) = listener.accept().unwrap();
                let mut req = [0u8; 4096];
                let n = s.read(&mut req).unwrap();
                let text = String::from_utf8_lossy(&req[..n]).to_string();
                assert!(text.contains("Authorization: Bearer tok"), "{text}");
                s.write_all(reply).unwrap();
            }
        });
        let mut api = ApiClient::new(addr, "tok");
        let (status, body) = api
            .request("POST", "/v1/sessions", Some(&serde_json::json!({"a": 1})))
            .unwrap();
        assert_eq!((status, body["id"].as_str()), (201, Some("s-1")));
        let (status, body) = api.request("DELETE", "/v1/sessions/s-1", None).unwrap();
        assert_eq!((status, body), (401, Value::Null));
        server.join().unwrap();
    }
}
