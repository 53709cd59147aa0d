//! Encoding: [`MessageEncoder`] writes a STUN message into the caller's buffer.

use crate::attribute::{padded, AttrType, Attribute};
use crate::header::{join_type, HEADER_LEN, MAGIC_COOKIE};
use crate::integrity::{self, IntegrityKey};
use crate::{Class, Error, Method, TransactionId};

/// Writes one STUN message into a caller's buffer, attribute by attribute; allocates nothing.
///
/// Order of calls: [`new`](MessageEncoder::new), any number of
/// [`attribute`](MessageEncoder::attribute), then optionally
/// [`message_integrity`](MessageEncoder::message_integrity) and/or
/// [`message_integrity_sha256`](MessageEncoder::message_integrity_sha256) (in that order),
/// then optionally [`fingerprint`](MessageEncoder::fingerprint), and
/// [`finish`](MessageEncoder::finish) for the length to send. The header's length field is
/// kept current after every call. A call that does not fit the buffer returns
/// [`Error::BufferTooSmall`] and leaves the message as it was; calls out of order return
/// [`Error::AttributeAfterIntegrity`] or [`Error::AttributeAfterFingerprint`].
///
/// ```
/// use edge_stun::{Attribute, Class, IntegrityKey, Message, MessageEncoder, Method, TransactionId};
///
/// let key = IntegrityKey::new(b"password");
/// let mut buf = [0u8; 1500];
/// let mut enc = MessageEncoder::new(&mut buf, Class::Request, Method::BINDING, TransactionId([7; 12]))?;
/// enc.attribute(&Attribute::Username("alice"))?
///     .message_integrity(&key)?
///     .fingerprint()?;
/// let len = enc.finish();
/// let msg = Message::parse(&buf[..len])?;
/// assert_eq!(msg.username()?, Some("alice"));
/// msg.verify_integrity(&key)?;
/// # Ok::<(), edge_stun::Error>(())
/// ```
#[derive(Debug)]
pub struct MessageEncoder<'b> {
    buf: &'b mut [u8],
    len: usize,
    tid: TransactionId,
    /// What has been written that constrains what may follow.
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Content,
    Integrity,
    IntegritySha256,
    Fingerprint,
}

impl<'b> MessageEncoder<'b> {
    /// Starts a message: writes the 20-byte header into `buf`.
    pub fn new(
        buf: &'b mut [u8],
        class: Class,
        method: Method,
        tid: TransactionId,
    ) -> Result<Self, Error> {
        let typ = join_type(class, method)?;
        let Some(header) = buf.first_chunk_mut::<HEADER_LEN>() else {
            return Err(Error::BufferTooSmall {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        };
        header[..2].copy_from_slice(&typ.to_be_bytes());
        header[2..4].fill(0);
        header[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        header[8..].copy_from_slice(&tid.0);
        Ok(MessageEncoder {
            buf,
            len: HEADER_LEN,
            tid,
            stage: Stage::Content,
        })
    }

    /// Appends one attribute. Values are checked (text lengths, error code range, channel
    /// number range) before anything is written.
    pub fn attribute(&mut self, attr: &Attribute<'_>) -> Result<&mut Self, Error> {
        let typ = attr.typ();
        self.check_content(typ)?;
        let value_len = attr.value_len()?;
        let tid = self.tid;
        let value = self.append(typ, value_len)?;
        attr.encode(value, &tid);
        Ok(self)
    }

    /// Appends a DATA attribute around a payload that is already in the buffer, at
    /// `buf[self.len() + 4..][..len]`: writes only the 4-byte TLV header before it and the
    /// zero padding after it. This is how a relay wraps a peer's datagram in a Data
    /// indication without copying it: receive the datagram at offset
    /// `HEADER_LEN + Attribute::XorPeerAddress(peer).encoded_len()? + 4`, then encode the
    /// header and XOR-PEER-ADDRESS in front of it and call this.
    pub fn data_in_place(&mut self, len: usize) -> Result<&mut Self, Error> {
        let typ = AttrType::DATA;
        self.check_content(typ)?;
        self.append(typ, len)?;
        Ok(self)
    }

    /// Appends MESSAGE-INTEGRITY: HMAC-SHA1 with `key` over everything so far.
    pub fn message_integrity(&mut self, key: &IntegrityKey) -> Result<&mut Self, Error> {
        let typ = AttrType::MESSAGE_INTEGRITY;
        self.check_stage(typ, Stage::Integrity)?;
        let start = self.len;
        self.append(typ, integrity::SHA1_LEN)?;
        let mac = integrity::sha1_over(key, &self.buf[..start], self.body_len());
        let tag = hmac::Mac::finalize(mac).into_bytes();
        self.buf[start + 4..self.len].copy_from_slice(&tag);
        self.stage = Stage::Integrity;
        Ok(self)
    }

    /// Appends MESSAGE-INTEGRITY-SHA256: HMAC-SHA256 (32 bytes, untruncated) with `key`
    /// over everything so far, including a MESSAGE-INTEGRITY written before it.
    pub fn message_integrity_sha256(&mut self, key: &IntegrityKey) -> Result<&mut Self, Error> {
        let typ = AttrType::MESSAGE_INTEGRITY_SHA256;
        self.check_stage(typ, Stage::IntegritySha256)?;
        let start = self.len;
        self.append(typ, integrity::SHA256_LEN)?;
        let mac = integrity::sha256_over(key, &self.buf[..start], self.body_len());
        let tag = hmac::Mac::finalize(mac).into_bytes();
        self.buf[start + 4..self.len].copy_from_slice(&tag);
        self.stage = Stage::IntegritySha256;
        Ok(self)
    }

    /// Appends FINGERPRINT, which must be the last attribute.
    pub fn fingerprint(&mut self) -> Result<&mut Self, Error> {
        let typ = AttrType::FINGERPRINT;
        self.check_stage(typ, Stage::Fingerprint)?;
        let start = self.len;
        self.append(typ, 4)?;
        let crc = integrity::fingerprint(&self.buf[..start]);
        self.buf[start + 4..self.len].copy_from_slice(&crc.to_be_bytes());
        self.stage = Stage::Fingerprint;
        Ok(self)
    }

    /// Bytes written so far: the message is complete and valid after every call.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing but the header has been written.
    pub fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// Ends the message, returning the number of bytes to send from the buffer's start.
    pub fn finish(self) -> usize {
        self.len
    }

    /// Errors when a content attribute may no longer be added.
    fn check_content(&self, typ: AttrType) -> Result<(), Error> {
        match self.stage {
            Stage::Content => Ok(()),
            Stage::Integrity | Stage::IntegritySha256 => {
                Err(Error::AttributeAfterIntegrity { attr: typ.0 })
            }
            Stage::Fingerprint => Err(Error::AttributeAfterFingerprint { attr: typ.0 }),
        }
    }

    /// Errors when `next` may not follow what was written (integrity attributes come once,
    /// in order, and nothing follows FINGERPRINT).
    fn check_stage(&self, typ: AttrType, next: Stage) -> Result<(), Error> {
        if self.stage == Stage::Fingerprint {
            Err(Error::AttributeAfterFingerprint { attr: typ.0 })
        } else if self.stage >= next {
            Err(Error::AttributeAfterIntegrity { attr: typ.0 })
        } else {
            Ok(())
        }
    }

    /// The header's length field value for the current message.
    fn body_len(&self) -> u16 {
        // `append` keeps the body within 65535 bytes.
        (self.len - HEADER_LEN) as u16
    }

    /// Reserves a TLV with a `value_len`-byte value (zero padding written), updates the
    /// header length, and returns the value's bytes.
    fn append(&mut self, typ: AttrType, value_len: usize) -> Result<&mut [u8], Error> {
        let start = self.len;
        let end = start + 4 + padded(value_len);
        if end - HEADER_LEN > usize::from(u16::MAX) || value_len > usize::from(u16::MAX) {
            return Err(Error::AttributeLength {
                attr: typ.0,
                len: value_len,
            });
        }
        if end > self.buf.len() {
            return Err(Error::BufferTooSmall {
                needed: end,
                available: self.buf.len(),
            });
        }
        self.buf[start..start + 2].copy_from_slice(&typ.0.to_be_bytes());
        self.buf[start + 2..start + 4].copy_from_slice(&(value_len as u16).to_be_bytes());
        self.buf[start + 4 + value_len..end].fill(0);
        self.len = end;
        let body = self.body_len().to_be_bytes();
        self.buf[2..4].copy_from_slice(&body);
        Ok(&mut self.buf[start + 4..start + 4 + value_len])
    }
}
