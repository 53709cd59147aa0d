//! [`RecvBatch`]: the caller-owned receive memory, allocated once and reused for every
//! [`crate::UdpSocket::recv`].

use crate::{RecvMeta, UdpSocket, DEFAULT_BATCH, DEFAULT_SLOT_SIZE, MAX_BATCH, MAX_SLOT_SIZE};

/// One buffer split into equal slots, plus the [`RecvMeta`] of each datagram the last
/// [`crate::UdpSocket::recv`] put there.
///
/// After a receive, datagram `i` (in arrival order, `i < len()`) is read with
/// [`datagram`](Self::datagram) or [`iter`](Self::iter), and transformed in place through
/// [`slots_mut`](Self::slots_mut) or [`slot_mut`](Self::slot_mut), whose slices can then be
/// sent as they are. Each [`crate::UdpSocket::recv`] overwrites the previous one;
/// [`crate::UdpSocket::recv_append`] fills the free slots after it instead, so datagrams from
/// several sockets can gather in one batch (then [`clear`](Self::clear) it).
///
/// A batch made [`with_headroom`](Self::with_headroom) receives each datagram `headroom`
/// bytes into its slot, leaving room to write a header in front of it without moving it.
pub struct RecvBatch {
    buf: Box<[u8]>,
    /// Bytes per slot: headroom plus room for the datagram.
    stride: usize,
    headroom: usize,
    metas: Box<[RecvMeta]>,
    /// The slot each received datagram lies in (slots whose datagram was dropped, e.g.
    /// truncated, are skipped). Ascending.
    slot_of: Box<[usize]>,
    len: usize,
    /// Slots used so far (received into, including those of dropped datagrams).
    used: usize,
    /// Whether the last receive found the socket's queue empty (see [`Self::drained`]).
    drained: bool,
}

impl RecvBatch {
    /// A batch of `slots` slots of `slot_size` bytes, all allocated now. `slots` is clamped
    /// to `1..=MAX_BATCH` and `slot_size` to `1..=MAX_SLOT_SIZE`. Datagrams larger than a
    /// slot are dropped and counted ([`crate::SocketStats::truncated`]).
    pub fn new(slots: usize, slot_size: usize) -> Self {
        Self::with_headroom(slots, slot_size, 0)
    }

    /// Like [`new`](Self::new), with `headroom` bytes (at most [`MAX_SLOT_SIZE`]) in front of each slot's datagram:
    /// datagram `i` lies at `slot[headroom..headroom + len]` of [`slot_mut`](Self::slot_mut)
    /// and [`slots_mut`](Self::slots_mut), so a header (a TURN ChannelData or Data header)
    /// can be written in front of it in place. `slot_size` is still the largest datagram.
    pub fn with_headroom(slots: usize, slot_size: usize, headroom: usize) -> Self {
        let slots = slots.clamp(1, MAX_BATCH);
        let slot_size = slot_size.clamp(1, MAX_SLOT_SIZE);
        let headroom = headroom.min(MAX_SLOT_SIZE);
        let stride = headroom + slot_size;
        Self {
            buf: vec![0; slots * stride].into_boxed_slice(),
            stride,
            headroom,
            metas: vec![RecvMeta::EMPTY; slots].into_boxed_slice(),
            slot_of: vec![0; slots].into_boxed_slice(),
            len: 0,
            used: 0,
            drained: false,
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

    /// The largest datagram (or GRO train) a receive accepts.
    pub fn slot_size(&self) -> usize {
        self.stride - self.headroom
    }

    /// Bytes in front of each datagram in its slot (0 unless made
    /// [`with_headroom`](Self::with_headroom)).
    pub fn headroom(&self) -> usize {
        self.headroom
    }

    /// Slots not yet received into, which [`crate::UdpSocket::recv_append`] fills.
    pub fn free_slots(&self) -> usize {
        self.capacity() - self.used
    }

    /// Whether the last receive stopped because the socket had nothing more queued: it
    /// delivered fewer datagrams than the free slots it offered. An edge-triggered event
    /// loop can then wait for the next readiness event instead of making one more call just
    /// to see `WouldBlock` (each datagram arriving later raises a new event). False after a
    /// receive that filled every slot offered: more may be waiting. (A socket reporting
    /// ICMP errors, i.e. a connected one, may also stop early; this crate's sockets are
    /// unconnected.)
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Forgets every datagram: the next [`crate::UdpSocket::recv_append`] starts at slot 0.
    pub fn clear(&mut self) {
        self.len = 0;
        self.used = 0;
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
        let start = self.slot_of[i] * self.stride + self.headroom;
        &self.buf[start..start + meta.len]
    }

    /// The whole slot of datagram `i` (headroom, datagram, free tailroom), e.g. to send a
    /// frame built in it while other slots are borrowed too.
    ///
    /// # Panics
    /// When `i >= len()`, like slice indexing.
    pub fn slot(&self, i: usize) -> &[u8] {
        let start = self.slot_of[..self.len][i] * self.stride;
        &self.buf[start..start + self.stride]
    }

    /// The whole slot of datagram `i`, mutable: the datagram lies at
    /// `[headroom()..headroom() + meta.len]`.
    ///
    /// # Panics
    /// When `i >= len()`, like slice indexing.
    pub fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        let start = self.slot_of[..self.len][i] * self.stride;
        &mut self.buf[start..start + self.stride]
    }

    /// Each received datagram with its metadata, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&RecvMeta, &[u8])> + '_ {
        (0..self.len).map(|i| (&self.metas[i], self.datagram(i)))
    }

    /// Each received datagram's metadata with its whole slot, mutable, in arrival order. The
    /// datagram is `slot[headroom()..headroom() + meta.len]` (`slot[..meta.len]` without
    /// headroom); the bytes after it are free tailroom for in-place
    /// growth (an SRTP auth tag, a TURN header after moving the payload up). The slices are
    /// disjoint, so they can all be borrowed at once by the [`crate::Transmit`]s that send
    /// them back out.
    pub fn slots_mut(&mut self) -> impl Iterator<Item = (&RecvMeta, &mut [u8])> + '_ {
        let metas = &self.metas[..self.len];
        let mut wanted = self.slot_of[..self.len].iter().zip(metas).peekable();
        self.buf
            .chunks_exact_mut(self.stride)
            .enumerate()
            .filter_map(move |(slot, bytes)| {
                let (_, meta) = wanted.next_if(|(s, _)| **s == slot)?;
                Some((meta, bytes))
            })
    }

    /// The free slots for a receive call, after clearing the batch unless `append`: the
    /// number of the first free slot and each free slot's room for a datagram (after the
    /// headroom), in order.
    pub(crate) fn start_recv(
        &mut self,
        append: bool,
    ) -> (usize, impl Iterator<Item = &mut [u8]> + '_) {
        if !append {
            self.clear();
        }
        let first = self.used;
        let headroom = self.headroom;
        let free = self.buf[first * self.stride..]
            .chunks_exact_mut(self.stride)
            .map(move |slot| &mut slot[headroom..]);
        (first, free)
    }

    /// Ends a receive call that offered `offered` slots from the first free one and used
    /// `used` of them (datagrams kept or dropped): `drained` when it stopped short.
    pub(crate) fn finish_recv(&mut self, offered: usize, used: usize, drained: bool) {
        self.used = (self.used + used.min(offered)).min(self.capacity());
        self.drained = drained;
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
            .field("slot_size", &self.slot_size())
            .field("headroom", &self.headroom)
            .field("metas", &self.metas())
            .finish()
    }
}
