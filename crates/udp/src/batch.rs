//! [`RecvBatch`]: the caller-owned receive memory, allocated once and reused for every
//! [`crate::UdpSocket::recv`].

use crate::{RecvMeta, UdpSocket, DEFAULT_BATCH, DEFAULT_SLOT_SIZE, MAX_BATCH, MAX_SLOT_SIZE};

/// One buffer split into equal slots, plus the [`RecvMeta`] of each datagram the last
/// [`crate::UdpSocket::recv`] put there.
///
/// After a receive, datagram `i` (in arrival order, `i < len()`) is read with
/// [`datagram`](Self::datagram) or [`iter`](Self::iter), and transformed in place through
/// [`slots_mut`](Self::slots_mut), whose slices can then be sent as they are. Each receive
/// overwrites the previous one.
pub struct RecvBatch {
    buf: Box<[u8]>,
    slot_size: usize,
    metas: Box<[RecvMeta]>,
    /// The slot each received datagram lies in (slots whose datagram was dropped, e.g.
    /// truncated, are skipped). Ascending.
    slot_of: Box<[usize]>,
    len: usize,
}

impl RecvBatch {
    /// A batch of `slots` slots of `slot_size` bytes, all allocated now. `slots` is clamped
    /// to `1..=MAX_BATCH` and `slot_size` to `1..=MAX_SLOT_SIZE`. Datagrams larger than a
    /// slot are dropped and counted ([`crate::SocketStats::truncated`]).
    pub fn new(slots: usize, slot_size: usize) -> Self {
        let slots = slots.clamp(1, MAX_BATCH);
        let slot_size = slot_size.clamp(1, MAX_SLOT_SIZE);
        Self {
            buf: vec![0; slots * slot_size].into_boxed_slice(),
            slot_size,
            metas: vec![RecvMeta::EMPTY; slots].into_boxed_slice(),
            slot_of: vec![0; slots].into_boxed_slice(),
            len: 0,
        }
    }

    /// A batch suited to `socket`: [`DEFAULT_BATCH`] slots of [`DEFAULT_SLOT_SIZE`] bytes, or
    /// of [`MAX_SLOT_SIZE`] when the socket has GRO on.
    pub fn for_socket(socket: &UdpSocket) -> Self {
        let slot_size = if socket.capabilities().gro {
            MAX_SLOT_SIZE
        } else {
            DEFAULT_SLOT_SIZE
        };
        Self::new(DEFAULT_BATCH, slot_size)
    }

    /// Datagrams (or GRO trains) the last receive delivered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the last receive delivered nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots: the most datagrams one receive can deliver.
    pub fn capacity(&self) -> usize {
        self.metas.len()
    }

    /// Bytes per slot: the largest datagram (or GRO train) a receive accepts.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// The metadata of the received datagrams, in arrival order.
    pub fn metas(&self) -> &[RecvMeta] {
        &self.metas[..self.len]
    }

    /// Datagram `i` of the last receive.
    ///
    /// # Panics
    /// When `i >= len()`, like slice indexing.
    pub fn datagram(&self, i: usize) -> &[u8] {
        let meta = &self.metas()[i];
        let start = self.slot_of[i] * self.slot_size;
        &self.buf[start..start + meta.len]
    }

    /// Each received datagram with its metadata, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&RecvMeta, &[u8])> + '_ {
        (0..self.len).map(|i| (&self.metas[i], self.datagram(i)))
    }

    /// Each received datagram's metadata with its whole slot, mutable, in arrival order. The
    /// datagram is `slot[..meta.len]`; the bytes after it are free tailroom for in-place
    /// growth (an SRTP auth tag, a TURN header after moving the payload up). The slices are
    /// disjoint, so they can all be borrowed at once by the [`crate::Transmit`]s that send
    /// them back out.
    pub fn slots_mut(&mut self) -> impl Iterator<Item = (&RecvMeta, &mut [u8])> + '_ {
        let metas = &self.metas[..self.len];
        let mut wanted = self.slot_of[..self.len].iter().zip(metas).peekable();
        self.buf
            .chunks_exact_mut(self.slot_size)
            .enumerate()
            .filter_map(move |(slot, bytes)| {
                let (_, meta) = wanted.next_if(|(s, _)| **s == slot)?;
                Some((meta, bytes))
            })
    }

    /// The raw slots for a receive call: the whole buffer and the slot size.
    pub(crate) fn start_recv(&mut self) -> (&mut [u8], usize) {
        self.len = 0;
        (&mut self.buf, self.slot_size)
    }

    /// Records datagram number `len()` as lying in `slot`.
    pub(crate) fn push(&mut self, slot: usize, meta: RecvMeta) {
        if let (Some(m), Some(s)) = (self.metas.get_mut(self.len), self.slot_of.get_mut(self.len)) {
            *m = meta;
            *s = slot;
            self.len += 1;
        }
    }
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("slots", &self.capacity())
            .field("slot_size", &self.slot_size)
            .field("metas", &self.metas())
            .finish()
    }
}
