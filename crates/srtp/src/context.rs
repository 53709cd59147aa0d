//! The two SRTP contexts, one per direction: [`Outbound`] protects, [`Inbound`] unprotects.

use bytes::BytesMut;

use crate::error::{Error, PacketKind};
use crate::kdf::MasterKey;
use crate::replay::MAX_WINDOW;
use crate::rtp::{rtcp_ssrc, RtpHeader};
use crate::stream::{check_replay, Streams, MAX_SRTCP_INDEX};
use crate::transform::Transform;
use crate::Profile;

/// Settings of a context. Start from [`Config::default`] and change what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    replay_window: u64,
    max_ssrcs: usize,
    encrypt_rtcp: bool,
}

impl Default for Config {
    /// A 128-packet replay window, at most 16 SSRCs per context, SRTCP encrypted.
    fn default() -> Config {
        Config {
            replay_window: 128,
            max_ssrcs: 16,
            encrypt_rtcp: true,
        }
    }
}

/// The largest [`Config::max_ssrcs`].
const MAX_SSRCS: usize = 4096;

impl Config {
    /// Replay-window size in packets, for SRTP and SRTCP alike: 64 (RFC 3711's minimum) to
    /// 1024. An inbound packet this far behind the newest is refused as [`Error::TooOld`].
    pub fn with_replay_window(mut self, packets: u64) -> Config {
        self.replay_window = packets;
        self
    }

    /// How many SSRCs one context tracks, 1 to 4096; packets of further SSRCs are refused
    /// with [`Error::SsrcLimit`]. Their state is reserved when the context is made.
    pub fn with_max_ssrcs(mut self, ssrcs: usize) -> Config {
        self.max_ssrcs = ssrcs;
        self
    }

    /// Whether [`Outbound`] encrypts SRTCP (E flag set). Unencrypted SRTCP is still
    /// authenticated; [`Inbound`] accepts both, as the E flag of each packet says.
    pub fn with_encrypt_rtcp(mut self, encrypt: bool) -> Config {
        self.encrypt_rtcp = encrypt;
        self
    }

    /// The replay-window size in packets.
    pub fn replay_window(&self) -> u64 {
        self.replay_window
    }

    /// The SSRC limit per context.
    pub fn max_ssrcs(&self) -> usize {
        self.max_ssrcs
    }

    /// Whether outbound SRTCP is encrypted.
    pub fn encrypt_rtcp(&self) -> bool {
        self.encrypt_rtcp
    }

    fn validate(&self) -> Result<(), Error> {
        if !(64..=MAX_WINDOW).contains(&self.replay_window) {
            return Err(Error::InvalidConfig(
                "replay window must be 64 to 1024 packets",
            ));
        }
        if !(1..=MAX_SSRCS).contains(&self.max_ssrcs) {
            return Err(Error::InvalidConfig("max_ssrcs must be 1 to 4096"));
        }
        Ok(())
    }
}

/// What both directions hold: the transform and the per-SSRC state.
struct Core {
    profile: Profile,
    transform: Transform,
    streams: Streams,
    encrypt_rtcp: bool,
}

impl Core {
    fn new(master: &MasterKey, config: &Config) -> Result<Core, Error> {
        config.validate()?;
        Ok(Core::with_transform(
            master.profile(),
            Transform::new(master)?,
            config,
        ))
    }

    fn with_transform(profile: Profile, transform: Transform, config: &Config) -> Core {
        Core {
            profile,
            transform,
            streams: Streams::new(config.max_ssrcs, config.replay_window),
            encrypt_rtcp: config.encrypt_rtcp,
        }
    }
}

/// Checks `len` against the buffer and returns the packet.
fn packet(buf: &[u8], len: usize) -> Result<&[u8], Error> {
    buf.get(..len).ok_or(Error::LengthExceedsBuffer {
        len,
        capacity: buf.len(),
    })
}

/// Checks the buffer has `needed` bytes of tailroom after `len`.
fn tailroom(buf: &[u8], len: usize, needed: usize, kind: PacketKind) -> Result<(), Error> {
    packet(buf, len)?;
    let available = buf.len() - len;
    if available < needed {
        return Err(Error::NoTailroom {
            kind,
            needed,
            available,
        });
    }
    Ok(())
}

/// Runs `f` on a `BytesMut` grown by `grow` bytes, then truncates it to the length `f`
/// returns, or back to its old length on error.
fn in_bytes(
    buf: &mut BytesMut,
    grow: usize,
    f: impl FnOnce(&mut [u8], usize) -> Result<usize, Error>,
) -> Result<(), Error> {
    let len = buf.len();
    buf.resize(len + grow, 0);
    let result = f(&mut buf[..], len);
    buf.truncate(*result.as_ref().unwrap_or(&len));
    result.map(|_| ())
}

/// The sending side of one SRTP session direction: protects RTP and RTCP in place.
///
/// It tracks each SSRC's rollover counter from the sequence numbers it sees and refuses to
/// protect an index twice (which would reuse keystream), so one `Outbound` per master key and
/// direction. Packets of several SSRCs share it, up to [`Config::with_max_ssrcs`].
///
/// Methods: [`protect_rtp`](Self::protect_rtp) and [`protect_rtcp`](Self::protect_rtcp) on a
/// buffer slot with tailroom, or their `_bytes` forms on a `BytesMut`.
pub struct Outbound {
    core: Core,
}

impl Outbound {
    /// A context for `master` (profile, master key, master salt): derives the session keys
    /// and expands them once.
    pub fn new(master: &MasterKey, config: &Config) -> Result<Outbound, Error> {
        Ok(Outbound {
            core: Core::new(master, config)?,
        })
    }

    /// The profile in use.
    pub fn profile(&self) -> Profile {
        self.core.profile
    }

    /// Protects the RTP packet `buf[..len]` in place: encrypts the payload and writes the tag
    /// after it, so `buf` needs [`Profile::rtp_overhead`] bytes of tailroom. Returns the SRTP
    /// length. On error `buf[..len]` is unchanged.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let core = &mut self.core;
        tailroom(buf, len, core.profile.rtp_overhead(), PacketKind::Rtp)?;
        let hdr = RtpHeader::parse(&buf[..len], 0)?;
        let slot = core.streams.slot(hdr.ssrc)?;
        let stream = core.streams.get(slot);
        let index = stream.estimate_index(hdr.ssrc, hdr.seq)?;
        check_replay(&stream.rtp, PacketKind::Rtp, hdr.ssrc, index)?;
        let out = core
            .transform
            .protect_rtp(buf, hdr.len, len, hdr.ssrc, index)?;
        core.streams.commit(slot, hdr.ssrc).rtp.accept(index);
        Ok(out)
    }

    /// Protects the RTCP packet `buf[..len]` in place under the next SRTCP index of its
    /// sender SSRC, appending the E flag, index and tag ([`Profile::rtcp_overhead`] bytes).
    /// Returns the SRTCP length. On error `buf[..len]` is unchanged.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let core = &mut self.core;
        tailroom(buf, len, core.profile.rtcp_overhead(), PacketKind::Rtcp)?;
        let ssrc = rtcp_ssrc(&buf[..len], 0)?;
        let slot = core.streams.slot(ssrc)?;
        let index = core.streams.get(slot).next_rtcp_index(ssrc)?;
        let out = core
            .transform
            .protect_rtcp(buf, len, ssrc, index, core.encrypt_rtcp)?;
        core.streams.commit(slot, ssrc).rtcp.accept(index.into());
        Ok(out)
    }

    /// [`protect_rtp`](Self::protect_rtp) on a `BytesMut` holding the RTP packet, which grows
    /// by the tag. It allocates only when its spare capacity is below
    /// [`Profile::rtp_overhead`].
    pub fn protect_rtp_bytes(&mut self, buf: &mut BytesMut) -> Result<(), Error> {
        let grow = self.core.profile.rtp_overhead();
        in_bytes(buf, grow, |b, len| self.protect_rtp(b, len))
    }

    /// [`protect_rtcp`](Self::protect_rtcp) on a `BytesMut`, which grows by
    /// [`Profile::rtcp_overhead`].
    pub fn protect_rtcp_bytes(&mut self, buf: &mut BytesMut) -> Result<(), Error> {
        let grow = self.core.profile.rtcp_overhead();
        in_bytes(buf, grow, |b, len| self.protect_rtcp(b, len))
    }

    /// The number of SSRCs this context tracks.
    pub fn ssrc_count(&self) -> usize {
        self.core.streams.len()
    }
}

/// The receiving side of one SRTP session direction: verifies and decrypts SRTP and SRTCP in
/// place, estimating each SSRC's rollover counter and refusing replays.
///
/// A packet changes the state only once it authenticates, so forged packets cannot move the
/// window or take SSRC slots.
///
/// Methods: [`unprotect_rtp`](Self::unprotect_rtp) and
/// [`unprotect_rtcp`](Self::unprotect_rtcp) on a buffer slot, or their `_bytes` forms.
pub struct Inbound {
    core: Core,
}

impl Inbound {
    /// A context for `master` (profile, master key, master salt): derives the session keys
    /// and expands them once.
    pub fn new(master: &MasterKey, config: &Config) -> Result<Inbound, Error> {
        Ok(Inbound {
            core: Core::new(master, config)?,
        })
    }

    /// The profile in use.
    pub fn profile(&self) -> Profile {
        self.core.profile
    }

    /// Verifies and decrypts the SRTP packet `buf[..len]` in place and returns the RTP length
    /// (the tag is cut off). On error the packet is to be dropped: its bytes are unspecified.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let core = &mut self.core;
        let hdr = RtpHeader::parse(packet(buf, len)?, core.profile.rtp_overhead())?;
        let slot = core.streams.slot(hdr.ssrc)?;
        let stream = core.streams.get(slot);
        let index = stream.estimate_index(hdr.ssrc, hdr.seq)?;
        check_replay(&stream.rtp, PacketKind::Rtp, hdr.ssrc, index)?;
        let out = core
            .transform
            .unprotect_rtp(buf, hdr.len, len, hdr.ssrc, index)?;
        core.streams.commit(slot, hdr.ssrc).rtp.accept(index);
        Ok(out)
    }

    /// Verifies and decrypts (when its E flag is set) the SRTCP packet `buf[..len]` in place
    /// and returns the RTCP length. On error the packet is to be dropped: its bytes are
    /// unspecified.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let core = &mut self.core;
        let srtcp = packet(buf, len)?;
        let ssrc = rtcp_ssrc(srtcp, core.profile.rtcp_overhead())?;
        let word = core.transform.rtcp_word(srtcp);
        let index = u64::from(word & MAX_SRTCP_INDEX);
        let slot = core.streams.slot(ssrc)?;
        check_replay(&core.streams.get(slot).rtcp, PacketKind::Rtcp, ssrc, index)?;
        let out = core.transform.unprotect_rtcp(buf, len, ssrc, word)?;
        core.streams.commit(slot, ssrc).rtcp.accept(index);
        Ok(out)
    }

    /// [`unprotect_rtp`](Self::unprotect_rtp) on a `BytesMut`, truncated to the RTP packet.
    pub fn unprotect_rtp_bytes(&mut self, buf: &mut BytesMut) -> Result<(), Error> {
        in_bytes(buf, 0, |b, len| self.unprotect_rtp(b, len))
    }

    /// [`unprotect_rtcp`](Self::unprotect_rtcp) on a `BytesMut`, truncated to the RTCP packet.
    pub fn unprotect_rtcp_bytes(&mut self, buf: &mut BytesMut) -> Result<(), Error> {
        in_bytes(buf, 0, |b, len| self.unprotect_rtcp(b, len))
    }

    /// The number of SSRCs this context tracks.
    pub fn ssrc_count(&self) -> usize {
        self.core.streams.len()
    }
}

#[cfg(test)]
impl Outbound {
    /// A context over session keys given directly (the RFC 7714 vectors give no master key).
    pub(crate) fn from_transform(profile: Profile, transform: Transform) -> Outbound {
        Outbound {
            core: Core::with_transform(profile, transform, &Config::default()),
        }
    }
}

#[cfg(test)]
impl Inbound {
    /// A context over session keys given directly.
    pub(crate) fn from_transform(profile: Profile, transform: Transform) -> Inbound {
        Inbound {
            core: Core::with_transform(profile, transform, &Config::default()),
        }
    }
}
