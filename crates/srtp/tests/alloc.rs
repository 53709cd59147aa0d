//! A counting global allocator proves protect and unprotect allocate nothing per packet once
//! a context exists and its SSRCs are known: RTP and RTCP, every profile, slices and
//! `BytesMut` with capacity reserved, and error paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use edge_alloc_count::Scope;
use edge_srtp::{Config, Inbound, MasterKey, Outbound, Profile};

#[global_allocator]
static GLOBAL: edge_alloc_count::Counting = edge_alloc_count::Counting;

#[test]
fn no_allocation_per_packet() {
    for profile in Profile::ALL {
        let key = MasterKey::new(
            profile,
            &vec![1; profile.master_key_len()],
            &vec![2; profile.master_salt_len()],
        )
        .unwrap();
        let config = Config::default().with_max_ssrcs(4);
        let mut tx = Outbound::new(&key, &config).unwrap();
        let mut rx = Inbound::new(&key, &config).unwrap();
        let mut slot = [0u8; 1500];
        let mut bytes = BytesMut::with_capacity(1500);
        let rtp = |seq: u16, ssrc: u8| {
            let mut p = [0x90u8; 200];
            p[..16].copy_from_slice(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ssrc, 0xbe, 0xde, 0, 1]);
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p
        };
        let rtcp = |ssrc: u8| {
            let mut p = [0u8; 52];
            p[..8].copy_from_slice(&[0x80, 201, 0, 12, 0, 0, 0, ssrc]);
            p
        };

        // The calling thread: protect and unprotect run on it and nowhere else. (A
        // process-wide window also counted the test harness's main thread, which can still
        // be allocating for its bookkeeping when a loaded machine starts this test.)
        let ((), allocations) = edge_alloc_count::count(Scope::ThisThread, || {
            // Sequence numbers start near 65535, so they wrap and the ROC rolls over; new SSRCs join.
            for n in 0..3_000u32 {
                let ssrc = (n % 3) as u8;
                let p = rtp((n as u16).wrapping_add(0xff00), ssrc);
                slot[..p.len()].copy_from_slice(&p);
                let len = tx.protect_rtp(&mut slot, p.len()).unwrap();
                assert_eq!(rx.unprotect_rtp(&mut slot, len).unwrap(), p.len());
                // A replay is refused, still without allocating.
                assert!(rx.unprotect_rtp(&mut slot, len).is_err());
                if n % 16 == 0 {
                    let c = rtcp(ssrc);
                    slot[..c.len()].copy_from_slice(&c);
                    let len = tx.protect_rtcp(&mut slot, c.len()).unwrap();
                    assert_eq!(rx.unprotect_rtcp(&mut slot, len).unwrap(), c.len());
                    // Truncated and forged input fails without allocating.
                    assert!(rx.unprotect_rtcp(&mut slot, 9).is_err());
                }
            }
            for n in 0..1000u16 {
                bytes.clear();
                bytes.extend_from_slice(&rtp(n, 9));
                tx.protect_rtp_bytes(&mut bytes).unwrap();
                rx.unprotect_rtp_bytes(&mut bytes).unwrap();
                assert_eq!(bytes.len(), 200);
            }
        });
        assert_eq!(allocations, 0, "{profile}: allocations per packet");
        assert_eq!(rx.ssrc_count(), 4);
    }
}
