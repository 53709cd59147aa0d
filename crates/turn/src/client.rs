//! A sans-IO TURN client (RFC 8656) on edge-stun's codec: the load generator's allocations
//! and the end-to-end tests' raw client both drive it.
//!
//! Like the server core it talks to, it owns no socket and reads no clock. Two layers:
//! - [`Client`] writes requests (Allocate, Refresh, CreatePermission, ChannelBind, or any
//!   method with the caller's attributes) and Send indications into the caller's buffer,
//!   signed with long-term credentials once the server has named its realm and nonce, and
//!   reads the answers ([`Client::read_response`]): a 401 or 438 that brings a new nonce is
//!   a [`Response::Challenge`] (the credentials are updated; send the request again), a
//!   success to a signed request must verify. [`read_data`] reads relayed data (ChannelData
//!   or a Data indication); [`StreamReader`] cuts a TCP/TLS byte stream into frames (RFC 8656
//!   section 11.5), in a buffer allocated once. ChannelData is written with
//!   [`edge_stun::ChannelData::encode_in_place`].
//! - [`AllocationClient`] is one allocation's life on top of it: Allocate (with the 401
//!   dance), CreatePermission and ChannelBind toward one peer, Refresh and ChannelBind again
//!   before their lifetimes run out, Refresh with LIFETIME 0 to close, with retransmissions
//!   over UDP; times are passed in.
//!
//! What it does not do: the RFC 8489 password algorithms (MESSAGE-INTEGRITY-SHA256),
//! TCP relay allocations (RFC 6062), more than one transaction in flight per [`Client`].

mod allocation;

use std::net::SocketAddr;

use edge_stun::{
    long_term_key, Attribute, ChannelData, Class, ErrorCode, Frame, IntegrityKey, Message,
    MessageEncoder, Method, TransactionId,
};

pub use allocation::{AllocationClient, AllocationConfig, Error, State};

/// REQUESTED-TRANSPORT for a UDP relay.
const UDP: u8 = 17;

/// Long-term credentials and what the server said about them (realm, nonce): writes
/// requests and indications, reads responses. One transaction at a time.
#[derive(Debug)]
pub struct Client {
    username: String,
    password: String,
    realm: String,
    /// The nonce requests are signed with; empty until the first challenge.
    nonce: String,
    /// Set from the first challenge on: requests are signed from then.
    key: Option<IntegrityKey>,
    rng: u64,
}

/// A request [`Client`] wrote: what its answer is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    tid: TransactionId,
    method: Method,
    len: usize,
    signed: bool,
}

// A request is never empty (it has a header), so `len` has no `is_empty` twin.
#[allow(clippy::len_without_is_empty)]
impl Request {
    /// Its transaction ID.
    pub fn tid(&self) -> TransactionId {
        self.tid
    }

    /// Its method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Its length in the buffer it was written into.
    pub fn len(&self) -> usize {
        self.len
    }
}

/// What an answer to a [`Request`] says.
#[derive(Debug)]
pub enum Response<'a> {
    /// A success response (verified, when the request was signed; a Binding success is
    /// taken unsigned, as servers send it).
    Success(Message<'a>),
    /// A 401 or 438 with a new nonce: the client now signs with it; send the request again
    /// (as a new transaction). Callers bound how many challenges in a row they follow.
    Challenge {
        /// 401 or 438.
        code: u16,
    },
    /// An error response.
    Refused {
        /// The error code (0 when the response has no ERROR-CODE).
        code: u16,
        /// Its reason phrase.
        reason: &'a str,
    },
    /// The answer does not decode.
    Malformed(edge_stun::Error),
    /// A success to a signed request whose MESSAGE-INTEGRITY is missing or wrong.
    Unverified,
}

/// Relayed data from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data<'a> {
    /// A ChannelData message.
    Channel {
        /// The channel number.
        number: u16,
        /// The payload (without stream padding).
        payload: &'a [u8],
    },
    /// A Data indication.
    Indication {
        /// The peer it came from.
        peer: SocketAddr,
        /// The payload.
        payload: &'a [u8],
    },
}

impl Data<'_> {
    /// The payload, whichever way it came.
    pub fn payload(&self) -> &[u8] {
        match self {
            Data::Channel { payload, .. } | Data::Indication { payload, .. } => payload,
        }
    }
}

/// Reads a datagram or stream frame as relayed data; `None` for anything else (a response,
/// garbage).
pub fn read_data(bytes: &[u8]) -> Option<Data<'_>> {
    if let Ok(cd) = ChannelData::parse(bytes) {
        return Some(Data::Channel {
            number: cd.number(),
            payload: cd.payload(),
        });
    }
    let msg = Message::parse(bytes).ok()?;
    if msg.method() != Method::DATA || msg.class() != Class::Indication {
        return None;
    }
    Some(Data::Indication {
        peer: msg.xor_peer_address().ok()??,
        payload: msg.data().ok()??,
    })
}

impl Client {
    /// A client with long-term credentials (for TURN REST credentials, `expiry:user` and
    /// its derived password); `seed` seeds its transaction IDs.
    pub fn new(username: impl Into<String>, password: impl Into<String>, seed: u64) -> Client {
        Client {
            username: username.into(),
            password: password.into(),
            realm: String::new(),
            nonce: String::new(),
            key: None,
            rng: seed ^ 0x2545_F491_4F6C_DD1D,
        }
    }

    /// Whether requests are signed (a challenge has been answered).
    pub fn is_authenticating(&self) -> bool {
        self.key.is_some()
    }

    /// Writes a request of `method` with `attributes` into `buf`, then USERNAME, REALM,
    /// NONCE and MESSAGE-INTEGRITY once a challenge named the realm and nonce, then
    /// FINGERPRINT.
    pub fn request(
        &mut self,
        method: Method,
        attributes: &[Attribute<'_>],
        buf: &mut [u8],
    ) -> Result<Request, edge_stun::Error> {
        let tid = self.next_tid();
        let mut enc = MessageEncoder::new(buf, Class::Request, method, tid)?;
        for a in attributes {
            enc.attribute(a)?;
        }
        if let Some(key) = &self.key {
            enc.attribute(&Attribute::Username(&self.username))?
                .attribute(&Attribute::Realm(&self.realm))?
                .attribute(&Attribute::Nonce(&self.nonce))?
                .message_integrity(key)?;
        }
        enc.fingerprint()?;
        Ok(Request {
            tid,
            method,
            len: enc.finish(),
            signed: self.key.is_some(),
        })
    }

    /// An Allocate for a UDP relay, asking for `lifetime` seconds (`None`: the server's
    /// default).
    pub fn allocate(
        &mut self,
        lifetime: Option<u32>,
        buf: &mut [u8],
    ) -> Result<Request, edge_stun::Error> {
        let transport = Attribute::RequestedTransport(UDP);
        match lifetime {
            Some(l) => self.request(Method::ALLOCATE, &[transport, Attribute::Lifetime(l)], buf),
            None => self.request(Method::ALLOCATE, &[transport], buf),
        }
    }

    /// A Refresh asking for `lifetime` seconds (0 deallocates).
    pub fn refresh(&mut self, lifetime: u32, buf: &mut [u8]) -> Result<Request, edge_stun::Error> {
        self.request(Method::REFRESH, &[Attribute::Lifetime(lifetime)], buf)
    }

    /// A CreatePermission for `peer`.
    pub fn create_permission(
        &mut self,
        peer: SocketAddr,
        buf: &mut [u8],
    ) -> Result<Request, edge_stun::Error> {
        self.request(
            Method::CREATE_PERMISSION,
            &[Attribute::XorPeerAddress(peer)],
            buf,
        )
    }

    /// A ChannelBind of channel `number` to `peer`.
    pub fn channel_bind(
        &mut self,
        number: u16,
        peer: SocketAddr,
        buf: &mut [u8],
    ) -> Result<Request, edge_stun::Error> {
        self.request(
            Method::CHANNEL_BIND,
            &[
                Attribute::ChannelNumber(number),
                Attribute::XorPeerAddress(peer),
            ],
            buf,
        )
    }

    /// Writes a Send indication carrying `data` to `peer`; returns its length.
    pub fn send_indication(
        &mut self,
        peer: SocketAddr,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, edge_stun::Error> {
        let tid = self.next_tid();
        let mut enc = MessageEncoder::new(buf, Class::Indication, Method::SEND, tid)?;
        enc.attribute(&Attribute::XorPeerAddress(peer))?
            .attribute(&Attribute::Data(data))?;
        Ok(enc.finish())
    }

    /// Reads `bytes` as the answer to `request`: `None` when it is not one (not STUN,
    /// another transaction, an indication). A challenge updates the realm, nonce and key.
    pub fn read_response<'a>(
        &mut self,
        request: &Request,
        bytes: &'a [u8],
    ) -> Option<Response<'a>> {
        let msg = Message::parse(bytes).ok()?;
        if msg.transaction_id() != request.tid
            || msg.method() != request.method
            || !matches!(msg.class(), Class::Success | Class::Error)
        {
            return None;
        }
        if msg.class() == Class::Success {
            let verified = !request.signed
                || request.method == Method::BINDING
                || self
                    .key
                    .as_ref()
                    .is_some_and(|k| msg.verify_integrity(k).is_ok());
            return Some(if verified {
                Response::Success(msg)
            } else {
                Response::Unverified
            });
        }
        let code = match msg.error_code() {
            Ok(code) => code.unwrap_or(ErrorCode {
                code: 0,
                reason: "no ERROR-CODE",
            }),
            Err(e) => return Some(Response::Malformed(e)),
        };
        if !matches!(code.code, ErrorCode::UNAUTHORIZED | ErrorCode::STALE_NONCE) {
            return Some(Response::Refused {
                code: code.code,
                reason: code.reason,
            });
        }
        let (nonce, realm) = match (msg.nonce(), msg.realm()) {
            (Ok(n), Ok(r)) => (n, r),
            (Err(e), _) | (_, Err(e)) => return Some(Response::Malformed(e)),
        };
        // The same nonce again (or none) means these credentials are refused.
        let Some(nonce) = nonce.filter(|n| *n != self.nonce) else {
            return Some(Response::Refused {
                code: code.code,
                reason: code.reason,
            });
        };
        nonce.clone_into(&mut self.nonce);
        if let Some(r) = realm {
            r.clone_into(&mut self.realm);
        }
        self.key = Some(IntegrityKey::new(&long_term_key(
            &self.username,
            &self.realm,
            &self.password,
        )));
        Some(Response::Challenge { code: code.code })
    }

    /// splitmix64: transaction IDs only need to be unique, not secret.
    fn next_tid(&mut self) -> TransactionId {
        let mut next = || {
            self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let (a, b) = (next(), next());
        let mut id = [0u8; 12];
        id[..8].copy_from_slice(&a.to_be_bytes());
        id[8..].copy_from_slice(&b.to_be_bytes()[..4]);
        TransactionId(id)
    }
}

/// Cuts a TCP or TLS byte stream into STUN messages and (padded) ChannelData frames, in a
/// buffer allocated once: read into [`spare`](Self::spare), report the count with
/// [`filled`](Self::filled), then take frames with [`next_frame`](Self::next_frame) until
/// it says more bytes are needed.
#[derive(Debug)]
pub struct StreamReader {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Default for StreamReader {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamReader {
    /// Buffer size: the largest frame (a 64 KiB STUN message or ChannelData payload plus
    /// its header and padding) with room for a read's worth more.
    pub const CAPACITY: usize = 65_536 + 16_384;

    /// An empty reader.
    pub fn new() -> StreamReader {
        StreamReader {
            buf: vec![0; Self::CAPACITY].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// The free end of the buffer, for the next read (frames already taken are dropped
    /// first). Never empty while a frame is incomplete.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Records that a read put `n` bytes into [`spare`](Self::spare).
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// The next whole frame; `Ok(None)` when more bytes are needed. An error means the
    /// stream is not TURN framing (nothing more can be read from it).
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, edge_stun::Error> {
        match edge_stun::next_frame(&self.buf[self.start..self.end])? {
            Frame::Stun(n) | Frame::ChannelData(n) => {
                let frame = self.start..self.start + n;
                self.start += n;
                Ok(self.buf.get(frame))
            }
            Frame::Incomplete(_) => Ok(None),
        }
    }
}
