//! Peers for the forwarder's socket-level tests and benchmark: a browser made of our own
//! crates (edge-stun Binding requests, edge-dtls in either role, edge-srtp), a plain RTP echo
//! for the enterprise side, and a reader of the kernel's UDP socket table.
//!
//! Shared by `crates/forward/tests/*.rs`, the suite's `tests/relay_*.rs` and
//! `benches/forward.rs` (which include this file by path).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use edge_dtls::{Certificate, ConfigBuilder, Fingerprint, Handshake, Role, SrtpKeys};
use edge_forward::{
    BrowserRemote, EnterpriseSide, ForwardConfig, PortRange, PublicSide, SessionInfo,
};
use edge_srtp::{Inbound, MasterKey, Outbound, Profile};
use edge_stun::{Attribute, Class, IntegrityKey, Message, MessageEncoder, Method, TransactionId};

/// How long a test waits for something that must happen: a guard against hanging only, never
/// a window a busy machine could miss (a passing test returns as soon as the event comes).
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// The public (browser-side) address of test relays.
pub const PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// The enterprise transport-address of test relays: another loopback address, so tests see
/// that enterprise sockets are pinned to it.
pub const ENTERPRISE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A relay configuration on loopback with the given port ranges.
pub fn config(public: (u16, u16), enterprise: (u16, u16), workers: usize) -> ForwardConfig {
    let mut c = ForwardConfig::new(
        PublicSide::new(
            IpAddr::V4(PUBLIC_IP),
            PortRange::new(public.0, public.1).unwrap(),
        ),
        EnterpriseSide::new(
            IpAddr::V4(ENTERPRISE_IP),
            PortRange::new(enterprise.0, enterprise.1).unwrap(),
        ),
    );
    c.workers = workers;
    c
}

/// A DTLS configuration with a fresh certificate.
pub fn dtls_config() -> edge_dtls::Config {
    ConfigBuilder::new(Certificate::generate().unwrap())
        .build()
        .unwrap()
}

/// An RTP packet: version 2, payload type 0 (PCMU), `seq`, timestamp `seq * 160`, `ssrc`,
/// then `payload`.
pub fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.extend_from_slice(&[0x80, 0]);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A 160-byte payload that names its packet, so a test can tell every packet apart.
pub fn payload(tag: u32, seq: u16) -> Vec<u8> {
    (0..160u32)
        .map(|i| (i ^ tag ^ u32::from(seq) ^ (u32::from(seq) >> 8).wrapping_mul(31)) as u8)
        .collect()
}

/// An RTCP receiver report without report blocks from `ssrc`.
pub fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// A compound RTCP packet as a sender sends it: an SR from `ssrc` with NTP middle bits
/// `ntp_mid` and one report block about `about` (1/256 lost, cumulative 3, jitter 40) whose
/// LSR is `lsr` with a DLSR of 1/65536 s; then an RR from `ssrc` with the same block.
pub fn rtcp_report(ssrc: u32, ntp_mid: u32, about: u32, lsr: u32) -> Vec<u8> {
    let mut block = about.to_be_bytes().to_vec();
    block.extend_from_slice(&[1, 0, 0, 3]);
    block.extend_from_slice(&[0, 0, 0, 100]);
    block.extend_from_slice(&40u32.to_be_bytes());
    block.extend_from_slice(&lsr.to_be_bytes());
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut p = vec![0x81, 200, 0, 12];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&(ntp_mid >> 16).to_be_bytes());
    p.extend_from_slice(&(ntp_mid << 16).to_be_bytes());
    p.extend_from_slice(&[0; 12]);
    p.extend_from_slice(&block);
    p.extend_from_slice(&[0x81, 201, 0, 7]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&block);
    p
}

/// A Binding request as the controlling agent would send it (transaction number `n`,
/// PRIORITY, ICE-CONTROLLING, USE-CANDIDATE when `nominate`), with `username` and
/// MESSAGE-INTEGRITY keyed with `pwd`, and FINGERPRINT.
pub fn binding_request(
    n: u32,
    username: &str,
    pwd: &str,
    nominate: bool,
) -> (Vec<u8>, TransactionId) {
    let mut tid = [0u8; 12];
    tid[..4].copy_from_slice(&n.to_be_bytes());
    let tid = TransactionId(tid);
    let mut buf = [0u8; 512];
    let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::BINDING, tid).unwrap();
    enc.attribute(&Attribute::Username(username))
        .unwrap()
        .attribute(&Attribute::Priority(0x6e00_1eff))
        .unwrap()
        .attribute(&Attribute::IceControlling(0x1234_5678))
        .unwrap();
    if nominate {
        enc.attribute(&Attribute::UseCandidate).unwrap();
    }
    enc.message_integrity(&IntegrityKey::new(pwd.as_bytes()))
        .unwrap()
        .fingerprint()
        .unwrap();
    let len = enc.finish();
    (buf[..len].to_vec(), tid)
}

/// The SRTP contexts a DTLS endpoint gets from its keys: what it sends with, what it
/// receives with.
pub fn srtp_contexts(keys: &SrtpKeys) -> (Outbound, Inbound) {
    let profile = Profile::from_dtls_id(keys.profile.id()).unwrap();
    let local = MasterKey::new(profile, &keys.local_master_key, &keys.local_master_salt).unwrap();
    let remote =
        MasterKey::new(profile, &keys.remote_master_key, &keys.remote_master_salt).unwrap();
    let cfg = edge_srtp::Config::default();
    (
        Outbound::new(&local, &cfg).unwrap(),
        Inbound::new(&remote, &cfg).unwrap(),
    )
}

/// The browser: one UDP socket on 127.0.0.1, ICE controlling, DTLS in the role its
/// `a=setup` implies, SRTP both ways.
pub struct Browser {
    pub socket: UdpSocket,
    relay: SocketAddr,
    relay_ufrag: String,
    relay_pwd: String,
    config: edge_dtls::Config,
    relay_fingerprint: Option<Fingerprint>,
    setup: &'static str,
    tid: u32,
    tx: Option<Outbound>,
    rx: Option<Inbound>,
    pub ssrc: u32,
    buf: Vec<u8>,
}

/// The browser's ICE credentials (the relay checks nothing but its own, plus this ufrag).
pub const BROWSER_UFRAG: &str = "brws";
pub const BROWSER_PWD: &str = "browserPassword0123456789+/";

impl Browser {
    /// A browser that offers (`a=setup:actpass`; the relay answers passive, so the browser
    /// is the DTLS client).
    pub fn new() -> Browser {
        Self::with_setup("actpass")
    }

    /// A browser whose SDP says `setup` (`actpass`/`active`: DTLS client; `passive`: DTLS
    /// server).
    pub fn with_setup(setup: &'static str) -> Browser {
        Self::on(PUBLIC_IP, setup)
    }

    /// A browser on `ip` (another loopback address is another source) whose SDP says
    /// `setup`.
    pub fn on(ip: Ipv4Addr, setup: &'static str) -> Browser {
        let socket = UdpSocket::bind((ip, 0)).unwrap();
        Browser {
            socket,
            relay: SocketAddr::from((PUBLIC_IP, 0)),
            relay_ufrag: String::new(),
            relay_pwd: String::new(),
            config: dtls_config(),
            relay_fingerprint: None,
            setup,
            tid: 0,
            tx: None,
            rx: None,
            ssrc: 0x5eed_0001,
            buf: vec![0; 2048],
        }
    }

    /// Another browser on the same UDP socket (a clone of its descriptor), so one socket
    /// can hold many sessions: each relay session has its own public port.
    pub fn sharing_socket_of(other: &Browser) -> Browser {
        let mut b = Self::new();
        b.socket = other.socket.try_clone().unwrap();
        b
    }

    /// What the browser's SDP says, for [`edge_forward::SessionSpec::browser`].
    pub fn remote(&self) -> BrowserRemote {
        self.remote_with(self.config.certificate().fingerprint())
    }

    /// The same with another fingerprint (to test a mismatch).
    pub fn remote_with(&self, fingerprint: Fingerprint) -> BrowserRemote {
        BrowserRemote::new(BROWSER_UFRAG, BROWSER_PWD, vec![fingerprint], self.setup)
    }

    /// The browser's address.
    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// Learns the relay's side from its answer or offer.
    pub fn relay_side(&mut self, info: &SessionInfo) {
        self.relay = info.public_addr;
        self.relay_ufrag = info.ice_ufrag.clone();
        self.relay_pwd = info.ice_pwd.clone();
        self.relay_fingerprint = Some(info.fingerprint);
    }

    /// A Binding request as the controlling agent, `pwd` as the key.
    pub fn binding_request(&mut self, pwd: &str, nominate: bool) -> (Vec<u8>, TransactionId) {
        let username = format!("{}:{BROWSER_UFRAG}", self.relay_ufrag);
        self.binding_request_as(&username, pwd, nominate)
    }

    /// A Binding request with any USERNAME (`<relay ufrag>:<browser ufrag>` for a real
    /// check).
    pub fn binding_request_as(
        &mut self,
        username: &str,
        pwd: &str,
        nominate: bool,
    ) -> (Vec<u8>, TransactionId) {
        self.tid += 1;
        binding_request(self.tid, username, pwd, nominate)
    }

    /// Sends a check with `pwd` and waits for the answer to it: its class and, on success,
    /// the mapped address.
    pub fn check(&mut self, pwd: &str, nominate: bool) -> (Class, Option<SocketAddr>) {
        let (req, tid) = self.binding_request(pwd, nominate);
        self.exchange_request(&req, tid, HANG_GUARD)
            .unwrap_or_else(|| panic!("no answer to the ICE check from {}", self.relay))
    }

    /// Sends the request `req` (resent every 200 ms) and waits up to `wait` for the answer
    /// to it: its class and, on success, the mapped address; `None` when none came.
    pub fn exchange_request(
        &mut self,
        req: &[u8],
        tid: TransactionId,
        wait: Duration,
    ) -> Option<(Class, Option<SocketAddr>)> {
        let deadline = Instant::now() + wait;
        let mut next_send = Instant::now();
        while Instant::now() < deadline {
            if Instant::now() >= next_send {
                self.socket.send_to(req, self.relay).unwrap();
                next_send = Instant::now() + Duration::from_millis(200);
            }
            if let Some(answer) = self.recv_answer(tid, Duration::from_millis(50)) {
                return Some(answer);
            }
        }
        None
    }

    /// Sends the request `req` once, never again, and waits for its fate: the class of the
    /// answer to it, or `None` once `dropped()` holds (a relay counter showing the request
    /// was dropped unanswered). Panics when neither happened within [`HANG_GUARD`].
    pub fn answer_or_drop(
        &mut self,
        req: &[u8],
        tid: TransactionId,
        mut dropped: impl FnMut() -> bool,
    ) -> Option<Class> {
        self.socket.send_to(req, self.relay).unwrap();
        let deadline = Instant::now() + HANG_GUARD;
        while Instant::now() < deadline {
            if let Some((class, _)) = self.recv_answer(tid, Duration::from_millis(10)) {
                return Some(class);
            }
            if dropped() {
                return None;
            }
        }
        panic!(
            "the request to {} was neither answered nor dropped",
            self.relay
        );
    }

    /// The answer to the transaction `tid` if one arrives within `timeout`: its class and, on
    /// success, the mapped address. Other datagrams are read and ignored.
    fn recv_answer(
        &mut self,
        tid: TransactionId,
        timeout: Duration,
    ) -> Option<(Class, Option<SocketAddr>)> {
        let len = self.recv_raw(timeout)?;
        let msg = Message::parse(&self.buf[..len]).ok()?;
        (msg.transaction_id() == tid).then(|| (msg.class(), msg.xor_mapped_address().unwrap()))
    }

    fn recv_raw(&mut self, timeout: Duration) -> Option<usize> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .unwrap();
        match self.socket.recv_from(&mut self.buf) {
            Ok((len, from)) if from == self.relay => Some(len),
            Ok(_) => None,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("browser receive failed: {e}"),
        }
    }

    /// ICE (a nominating check) and the DTLS handshake; `Err` with the DTLS error when the
    /// handshake fails or the relay goes quiet.
    pub fn connect(&mut self, info: &SessionInfo) -> Result<(), String> {
        self.relay_side(info);
        let (class, mapped) = self.check(&info.ice_pwd.clone(), true);
        assert_eq!(class, Class::Success);
        assert_eq!(mapped, Some(self.addr()));
        self.handshake()
    }

    /// Runs the DTLS handshake to its end over the socket.
    pub fn handshake(&mut self) -> Result<(), String> {
        let role = Role::answering(self.relay_role_setup()).unwrap();
        let remote = [self.relay_fingerprint.expect("relay_side first")];
        let now = Instant::now();
        let mut hs = Handshake::new(&self.config, role, &remote, now).map_err(|e| e.to_string())?;
        let deadline = now + HANG_GUARD;
        let mut out = Vec::new();
        loop {
            out.clear();
            while let Some(len) = hs.poll_transmit(&mut out) {
                let start = out.len() - len;
                self.socket.send_to(&out[start..], self.relay).unwrap();
            }
            if let Some(keys) = hs.poll_keys() {
                let (tx, rx) = srtp_contexts(&keys);
                self.tx = Some(tx);
                self.rx = Some(rx);
                return Ok(());
            }
            let now = Instant::now();
            if now > deadline {
                return Err("DTLS handshake timed out".into());
            }
            let wait = hs
                .poll_timeout()
                .map_or(Duration::from_millis(50), |t| {
                    t.saturating_duration_since(now)
                })
                .min(Duration::from_millis(50));
            match self.recv_raw(wait) {
                Some(len) if (20..=63).contains(&self.buf[0]) => {
                    hs.handle_input(Instant::now(), &self.buf[..len])
                        .map_err(|e| e.to_string())?;
                }
                Some(_) => {}
                None => hs
                    .handle_timeout(Instant::now())
                    .map_err(|e| e.to_string())?,
            }
        }
    }

    /// The relay's `a=setup` as seen from the browser: what the browser answers to.
    fn relay_role_setup(&self) -> &'static str {
        // The browser's own role: `actpass`/`active` in its SDP made the relay passive, so
        // the browser is the client (it answers "passive" with Role::answering); `passive`
        // made the relay active, so the browser is the server.
        match self.setup {
            "passive" => "active",
            _ => "passive",
        }
    }

    /// Protects and sends an RTP packet.
    pub fn send_rtp(&mut self, seq: u16, payload: &[u8]) {
        let packet = rtp(seq, self.ssrc, payload);
        self.send_protected(&packet, false);
    }

    /// Protects and sends an RTCP packet.
    pub fn send_rtcp(&mut self, packet: &[u8]) {
        self.send_protected(packet, true);
    }

    /// Protects `packet` and returns the SRTP bytes without sending them.
    pub fn protect(&mut self, packet: &[u8], rtcp: bool) -> Vec<u8> {
        let mut slot = vec![0u8; packet.len() + 64];
        slot[..packet.len()].copy_from_slice(packet);
        let tx = self.tx.as_mut().expect("connect first");
        let len = if rtcp {
            tx.protect_rtcp(&mut slot, packet.len())
        } else {
            tx.protect_rtp(&mut slot, packet.len())
        }
        .unwrap();
        slot.truncate(len);
        slot
    }

    /// Protects the RTP packet `slot[..len]` in place; returns the SRTP length.
    pub fn protect_in_place(&mut self, slot: &mut [u8], len: usize) -> usize {
        let tx = self.tx.as_mut().expect("connect first");
        tx.protect_rtp(slot, len).unwrap()
    }

    /// The relay's public address this browser talks to.
    pub fn relay(&self) -> SocketAddr {
        self.relay
    }

    fn send_protected(&mut self, packet: &[u8], rtcp: bool) {
        let srtp = self.protect(packet, rtcp);
        self.send_raw(&srtp);
    }

    /// Sends bytes as they are.
    pub fn send_raw(&self, bytes: &[u8]) {
        self.socket.send_to(bytes, self.relay).unwrap();
    }

    /// The next media packet from the relay, unprotected (RTP or RTCP), within `timeout`.
    pub fn recv_media(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let Some(len) = self.recv_raw(left) else {
                continue;
            };
            if !(128..=191).contains(&self.buf[0]) {
                continue;
            }
            let rx = self.rx.as_mut().expect("connect first");
            let rtcp = self.buf.get(1).is_some_and(|b| (192..=223).contains(b));
            let plain = if rtcp {
                rx.unprotect_rtcp(&mut self.buf, len)
            } else {
                rx.unprotect_rtp(&mut self.buf, len)
            };
            return Some(self.buf[..plain.expect("relay media must authenticate")].to_vec());
        }
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

/// The enterprise side: a plain UDP RTP echo with an RTP and an RTCP socket on loopback,
/// recording what it received.
pub struct Echo {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    rtcp_received: Arc<Mutex<Vec<Vec<u8>>>>,
    pub sources: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Echo {
    /// Starts echoing on 127.0.0.1.
    pub fn start() -> Echo {
        Self::start_on(Ipv4Addr::LOCALHOST)
    }

    /// Starts echoing on `ip`.
    pub fn start_on(ip: Ipv4Addr) -> Echo {
        let stop = Arc::new(AtomicBool::new(false));
        let sources = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        let mut spawn = |record: Arc<Mutex<Vec<Vec<u8>>>>| {
            let socket = UdpSocket::bind((ip, 0)).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let addr = socket.local_addr().unwrap();
            let stop = stop.clone();
            let sources = sources.clone();
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((len, from)) = socket.recv_from(&mut buf) {
                        record.lock().unwrap().push(buf[..len].to_vec());
                        let mut s = sources.lock().unwrap();
                        if !s.contains(&from) {
                            s.push(from);
                        }
                        drop(s);
                        let _ = socket.send_to(&buf[..len], from);
                    }
                }
            }));
            addr
        };
        let received = Arc::new(Mutex::new(Vec::new()));
        let rtcp_received = Arc::new(Mutex::new(Vec::new()));
        let rtp = spawn(received.clone());
        let rtcp = spawn(rtcp_received.clone());
        Echo {
            rtp,
            rtcp,
            received,
            rtcp_received,
            sources,
            stop,
            threads,
        }
    }

    /// The RTP datagrams received so far.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }

    /// The RTCP datagrams received so far.
    pub fn rtcp_received(&self) -> Vec<Vec<u8>> {
        self.rtcp_received.lock().unwrap().clone()
    }

    /// The remote for the relay: both sockets.
    pub fn remote(&self) -> edge_forward::EnterpriseRemote {
        let mut r = edge_forward::EnterpriseRemote::new(self.rtp);
        r.rtcp = Some(self.rtcp);
        r
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// An enterprise endpoint a test drives itself (no thread): one socket on 127.0.0.1,
/// plain RTP or SDES-SRTP (its own key for what it sends, the relay's for what it
/// receives).
pub struct RtpPeer {
    pub socket: UdpSocket,
    tx: Option<Outbound>,
    rx: Option<Inbound>,
    key: Option<edge_srtp::CryptoAttribute>,
}

impl RtpPeer {
    /// A plain-RTP peer.
    pub fn plain() -> RtpPeer {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        RtpPeer {
            socket,
            tx: None,
            rx: None,
            key: None,
        }
    }

    /// An SDES-SRTP peer whose own key is made from `seed`; `relay_crypto` is the relay's
    /// `a=crypto` line ([`SessionInfo::enterprise_crypto`]).
    pub fn sdes(relay_crypto: &str, seed: u8) -> RtpPeer {
        let cfg = edge_srtp::Config::default();
        let relay = edge_srtp::CryptoAttribute::parse(relay_crypto).unwrap();
        let ours = MasterKey::new(Profile::Aes128CmHmacSha1_80, &[seed; 16], &[!seed; 14]);
        let ours = ours.unwrap();
        let mut peer = RtpPeer::plain();
        peer.tx = Some(Outbound::new(&ours, &cfg).unwrap());
        peer.rx = Some(Inbound::new(&relay.key, &cfg).unwrap());
        peer.key = Some(edge_srtp::CryptoAttribute::new(1, ours));
        peer
    }

    /// The peer's address.
    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// The remote for the relay: this socket for RTP (and RTCP with rtcp-mux), and the
    /// peer's key with SDES.
    pub fn remote(&self) -> edge_forward::EnterpriseRemote {
        let mut r = edge_forward::EnterpriseRemote::new(self.addr());
        r.crypto = self.key.clone();
        r
    }

    /// Sends the RTP `packet` (protected with SDES) to `to`.
    pub fn send(&mut self, to: SocketAddr, packet: &[u8]) {
        self.send_protected(to, packet, false);
    }

    /// Sends the RTCP `packet` (protected with SDES) to `to`.
    pub fn send_rtcp(&mut self, to: SocketAddr, packet: &[u8]) {
        self.send_protected(to, packet, true);
    }

    fn send_protected(&mut self, to: SocketAddr, packet: &[u8], rtcp: bool) {
        let mut slot = packet.to_vec();
        if let Some(tx) = &mut self.tx {
            slot.resize(packet.len() + 64, 0);
            let len = if rtcp {
                tx.protect_rtcp(&mut slot, packet.len())
            } else {
                tx.protect_rtp(&mut slot, packet.len())
            };
            slot.truncate(len.unwrap());
        }
        self.socket.send_to(&slot, to).unwrap();
    }

    /// The next datagram within `timeout`, unprotected with SDES (which must authenticate).
    pub fn recv(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        self.socket.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0u8; 2048];
        let (len, _) = self.socket.recv_from(&mut buf).ok()?;
        let rtcp = buf.get(1).is_some_and(|b| (192..=223).contains(b));
        let len = match &mut self.rx {
            Some(rx) if rtcp => rx.unprotect_rtcp(&mut buf, len),
            Some(rx) => rx.unprotect_rtp(&mut buf, len),
            None => Ok(len),
        };
        let len = len.expect("relay media must authenticate");
        buf.truncate(len);
        Some(buf)
    }
}

/// A bare echo that allocates nothing per packet (for the allocation test and the
/// benchmark): it sends each datagram back to its source and counts it.
pub struct BareEcho {
    pub addr: SocketAddr,
    pub count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BareEcho {
    pub fn start() -> BareEcho {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let (s, c) = (stop.clone(), count.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !s.load(Ordering::Relaxed) {
                if let Ok((len, from)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(&buf[..len], from);
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        BareEcho {
            addr,
            count,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for BareEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The UDP ports bound on `ip` right now, as the kernel lists them in /proc/net/udp
/// (IPv4). Wildcard-bound sockets are not included.
pub fn bound_udp_ports(ip: Ipv4Addr) -> Vec<u16> {
    let table = stable_proc_table("/proc/net/udp");
    // The address column is the 32-bit address as the kernel holds it (network order bytes
    // read as a native little-endian integer), in hex; then the port in hex.
    let wanted = format!("{:08X}", u32::from_le_bytes(ip.octets()));
    let mut ports: Vec<u16> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let local = line.split_whitespace().nth(1)?;
            let (addr, port) = local.split_once(':')?;
            (addr == wanted).then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect();
    ports.sort_unstable();
    ports
}

/// A consistent snapshot of a `/proc/net` table. The kernel writes such a table a chunk per
/// `read`, walking its hash table afresh each time, so while other threads open and close
/// sockets one read can show a socket twice or not at all: read until two reads agree.
pub fn stable_proc_table(path: &str) -> String {
    let mut last = std::fs::read_to_string(path).unwrap();
    for _ in 0..100 {
        let next = std::fs::read_to_string(path).unwrap();
        if next == last {
            return next;
        }
        last = next;
    }
    panic!("{path} never read the same twice in a row");
}

/// The ports of `ip` within `first..=last` bound right now.
pub fn bound_in(ip: Ipv4Addr, first: u16, last: u16) -> Vec<u16> {
    bound_udp_ports(ip)
        .into_iter()
        .filter(|p| (first..=last).contains(p))
        .collect()
}

/// Waits up to `timeout` for `f` to hold.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}
