//! The program on crafted frames (BPF_PROG_TEST_RUN): every rewrite is compared byte for byte
//! with a frame built here independently (full checksums, no incremental arithmetic), and
//! everything the program must not touch is checked to come back unchanged with XDP_PASS.
//!
//! Frames are run as if they arrived on the loopback interface (index 1, present in every
//! network namespace); nothing is sent. Needs root (CAP_BPF, CAP_NET_ADMIN).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use edge_xdp::{Channel, FastPath, Settings, Verdict};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 3);
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 3];
const LISTEN: u16 = 3478;
const RELAY_PORT: u16 = 50010;
const NUMBER: u16 = 0x4001;
const IFINDEX: u32 = 1;

/// The loaded program, configured for a TURN server on SERVER:3478 with relay ports
/// 50000-50099, which has seen a frame from the client and one from the peer (so it knows
/// their next hops).
struct Bench {
    xdp: FastPath,
    mac: [u8; 6],
}

fn settings(mtu: u16, source_pps: u32, source_burst: u32) -> Settings {
    Settings {
        listen_ports: vec![LISTEN],
        relay_ports: 50000..=50099,
        source_pps,
        source_burst,
        mtu,
    }
}

fn bench(mtu: u16) -> Bench {
    let mut xdp = FastPath::load().unwrap();
    xdp.configure(&settings(mtu, 0, 0)).unwrap();
    let b = Bench {
        xdp,
        mac: SERVER_MAC,
    };
    // A Binding request from the client and a datagram from the peer to a relay port no
    // channel uses: both passed, both teach the program where their sender is.
    passes(
        &b,
        &from_client(&b, &binding(), true),
        "client's first frame",
    );
    let hello = frame(
        b.mac,
        PEER_MAC,
        channel().peer,
        SocketAddrV4::new(SERVER, 50099),
        b"hi",
        50,
        true,
    );
    passes(&b, &hello, "peer's first frame");
    b
}

fn binding() -> Vec<u8> {
    let mut stun = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[7; 12]);
    stun
}

fn channel() -> Channel {
    Channel {
        client: SocketAddrV4::new(CLIENT, 40001),
        server: SocketAddrV4::new(SERVER, LISTEN),
        number: NUMBER,
        relay: SocketAddrV4::new(SERVER, RELAY_PORT),
        peer: SocketAddrV4::new(PEER, 9000),
    }
}

fn forever() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// Ones' complement sum of `bytes` (an odd last byte padded with zero), not folded.
fn sum(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet + IPv4 + UDP frame with full, independently computed checksums (`csum`
/// false: UDP checksum 0), TTL `ttl`, IP id 0x1234.
fn frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
    ttl: u8,
    csum: bool,
) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, ttl, 17, 0, 0];
    ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    ip.extend_from_slice(&src.ip().octets());
    ip.extend_from_slice(&dst.ip().octets());
    let c = fold(sum(&ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut udp = Vec::new();
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    if csum {
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src.ip().octets());
        pseudo.extend_from_slice(&dst.ip().octets());
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&(udp_len as u16).to_be_bytes());
        let mut c = fold(sum(&pseudo) + sum(&udp));
        if c == 0 {
            c = 0xffff;
        }
        udp[6..8].copy_from_slice(&c.to_be_bytes());
    }
    f.extend_from_slice(&udp);
    f
}

/// Deterministic payload bytes for length `len`.
fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(len as u32) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn channel_data(number: u16, data: &[u8], pad: usize, pad_byte: u8) -> Vec<u8> {
    let mut cd = Vec::new();
    cd.extend_from_slice(&number.to_be_bytes());
    cd.extend_from_slice(&(data.len() as u16).to_be_bytes());
    cd.extend_from_slice(data);
    cd.extend(std::iter::repeat_n(pad_byte, pad));
    cd
}

fn from_client(b: &Bench, cd: &[u8], csum: bool) -> Vec<u8> {
    let ch = channel();
    frame(b.mac, CLIENT_MAC, ch.client, ch.server, cd, 61, csum)
}

#[test]
fn channel_data_of_every_length_with_and_without_padding_becomes_the_peer_datagram() {
    let mut b = bench(9000);
    let ch = channel();
    b.xdp.channel_up(&ch, forever()).unwrap();
    let mut relayed = 0;
    for len in 0..=1500usize {
        let data = payload(len, 1);
        // Any padding up to the next multiple of 4 is valid over UDP (none, part, all).
        for pad in 0..=(4 - len % 4) % 4 {
            // Padding bytes need not be zero (RFC 8656 §12.5): the checksum must drop them.
            let input = from_client(&b, &channel_data(NUMBER, &data, pad, 0xa5), true);
            let (verdict, out) = b.xdp.test_run(&input, IFINDEX).unwrap();
            let want = frame(PEER_MAC, b.mac, ch.relay, ch.peer, &data, 64, true);
            assert_eq!(verdict, Verdict::Tx, "len {len} pad {pad}");
            assert_eq!(out, want, "len {len} pad {pad}");
            relayed += 1;
        }
    }
    let counters = b.xdp.counters().unwrap();
    assert_eq!(counters.to_peers, relayed);
    assert_eq!(counters.to_clients, 0);
}

#[test]
fn peer_datagrams_of_every_length_become_channel_data_to_the_client() {
    let mut b = bench(9000);
    let ch = channel();
    b.xdp.channel_up(&ch, forever()).unwrap();
    for len in 0..=1500usize {
        let data = payload(len, 2);
        let input = frame(b.mac, PEER_MAC, ch.peer, ch.relay, &data, 50, true);
        let (verdict, out) = b.xdp.test_run(&input, IFINDEX).unwrap();
        // Over UDP, ChannelData toward the client is not padded (as edge-turn sends it).
        let want = frame(
            CLIENT_MAC,
            b.mac,
            ch.server,
            ch.client,
            &channel_data(NUMBER, &data, 0, 0),
            64,
            true,
        );
        assert_eq!(verdict, Verdict::Tx, "len {len}");
        assert_eq!(out, want, "len {len}");
    }
    let counters = b.xdp.counters().unwrap();
    assert_eq!(counters.to_clients, 1501);
    assert_eq!(counters.to_clients_bytes, (0..=1500).sum::<u64>());
}

#[test]
fn a_destination_not_seen_yet_goes_to_userspace() {
    let mut xdp = FastPath::load().unwrap();
    xdp.configure(&settings(9000, 0, 0)).unwrap();
    let mut b = Bench {
        xdp,
        mac: SERVER_MAC,
    };
    let ch = channel();
    b.xdp.channel_up(&ch, forever()).unwrap();
    let data = payload(20, 3);
    // The client's ChannelData teaches the client's next hop, but the peer's is unknown.
    let input = from_client(&b, &channel_data(NUMBER, &data, 0, 0), true);
    passes(&b, &input, "peer not seen yet");
    // The peer's datagram can go: the client was seen.
    let back = frame(b.mac, PEER_MAC, ch.peer, ch.relay, &data, 50, true);
    assert_eq!(b.xdp.test_run(&back, IFINDEX).unwrap().0, Verdict::Tx);
    // And now the client's.
    assert_eq!(b.xdp.test_run(&input, IFINDEX).unwrap().0, Verdict::Tx);
    assert_eq!(b.xdp.counters().unwrap().no_route, 1);
}

#[test]
fn udp_checksum_zero_stays_zero_both_ways() {
    let mut b = bench(9000);
    let ch = channel();
    b.xdp.channel_up(&ch, forever()).unwrap();
    for len in [0usize, 1, 2, 3, 171, 172] {
        let data = payload(len, 4);
        let input = from_client(&b, &channel_data(NUMBER, &data, 0, 0), false);
        let (verdict, out) = b.xdp.test_run(&input, IFINDEX).unwrap();
        assert_eq!(verdict, Verdict::Tx);
        assert_eq!(
            out,
            frame(PEER_MAC, b.mac, ch.relay, ch.peer, &data, 64, false)
        );
        let input = frame(b.mac, PEER_MAC, ch.peer, ch.relay, &data, 50, false);
        let (verdict, out) = b.xdp.test_run(&input, IFINDEX).unwrap();
        assert_eq!(verdict, Verdict::Tx);
        let cd = channel_data(NUMBER, &data, 0, 0);
        assert_eq!(
            out,
            frame(CLIENT_MAC, b.mac, ch.server, ch.client, &cd, 64, false)
        );
    }
}

#[test]
fn an_ethernet_trailer_is_trimmed() {
    let mut b = bench(9000);
    let ch = channel();
    b.xdp.channel_up(&ch, forever()).unwrap();
    let data = payload(2, 5);
    let mut input = from_client(&b, &channel_data(NUMBER, &data, 2, 0), true);
    input.resize(60, 0); // the minimum Ethernet frame
    let (verdict, out) = b.xdp.test_run(&input, IFINDEX).unwrap();
    assert_eq!(verdict, Verdict::Tx);
    assert_eq!(
        out,
        frame(PEER_MAC, b.mac, ch.relay, ch.peer, &data, 64, true)
    );
}

/// Runs `input` and checks it was passed to the stack byte for byte.
fn passes(b: &Bench, input: &[u8], what: &str) {
    let (verdict, out) = b.xdp.test_run(input, IFINDEX).unwrap();
    assert_eq!(verdict, Verdict::Pass, "{what}");
    assert_eq!(out, input, "{what}: passed frames are untouched");
}

#[test]
fn everything_else_passes_unchanged() {
    let mut b = bench(1500);
    let ch = channel();
    b.xdp.channel_up(&ch, forever()).unwrap();
    let data = payload(100, 6);
    // A channel number nobody bound.
    passes(
        &b,
        &from_client(&b, &channel_data(0x4002, &data, 0, 0), true),
        "wrong channel",
    );
    // Short headers: 0 to 3 bytes of ChannelData.
    for n in 0..4 {
        let cd = channel_data(NUMBER, &data, 0, 0);
        passes(&b, &from_client(&b, &cd[..n], true), "short header");
    }
    // Truncated: the length field says more than the datagram holds.
    let cd = channel_data(NUMBER, &data, 0, 0);
    passes(&b, &from_client(&b, &cd[..cd.len() - 1], true), "truncated");
    // Trailing bytes beyond the padding.
    passes(
        &b,
        &from_client(&b, &channel_data(NUMBER, &data, 4, 0), true),
        "trailing",
    );
    // A STUN Binding request (first two bits 00).
    passes(&b, &from_client(&b, &binding(), true), "STUN");
    // IPv4 options (IHL 6, one NOP word), checksum fixed up.
    let good = from_client(&b, &channel_data(NUMBER, &data, 0, 0), true);
    let mut opts = good[..34].to_vec();
    opts.extend_from_slice(&[1, 1, 1, 0]);
    opts.extend_from_slice(&good[34..]);
    opts[14] = 0x46;
    let tot = u16::from_be_bytes([opts[16], opts[17]]) + 4;
    opts[16..18].copy_from_slice(&tot.to_be_bytes());
    opts[24..26].copy_from_slice(&[0, 0]);
    let c = fold(sum(&opts[14..38]));
    opts[24..26].copy_from_slice(&c.to_be_bytes());
    passes(&b, &opts, "IPv4 options");
    // A fragment (more-fragments bit) and a later fragment (offset).
    for frag in [[0x20, 0x00], [0x00, 0x10]] {
        let mut f = good.clone();
        f[20..22].copy_from_slice(&frag);
        passes(&b, &f, "fragment");
    }
    // IPv6 (just the EtherType: the program never looks further).
    let mut v6 = good.clone();
    v6[12..14].copy_from_slice(&[0x86, 0xdd]);
    passes(&b, &v6, "IPv6");
    // A datagram from the right peer to the wrong relay port, or from another port.
    let other = frame(
        b.mac,
        PEER_MAC,
        ch.peer,
        SocketAddrV4::new(SERVER, 50011),
        &data,
        50,
        true,
    );
    passes(&b, &other, "unbound relay port");
    let other = frame(
        b.mac,
        PEER_MAC,
        SocketAddrV4::new(PEER, 9001),
        ch.relay,
        &data,
        50,
        true,
    );
    passes(&b, &other, "unbound peer port");
    // Too big for the link once rewritten: the stack fragments it.
    let big = payload(1473, 7);
    let f = frame(b.mac, PEER_MAC, ch.peer, ch.relay, &big, 50, true);
    passes(&b, &f, "needs fragmenting");
    assert_eq!(b.xdp.counters().unwrap().no_route, 1);
    // The well-formed frame itself is relayed (the checks above are not vacuous).
    assert_eq!(b.xdp.test_run(&good, IFINDEX).unwrap().0, Verdict::Tx);
}

#[test]
fn an_expired_or_removed_channel_goes_to_userspace() {
    let mut b = bench(9000);
    let ch = channel();
    let data = payload(40, 8);
    let input = from_client(&b, &channel_data(NUMBER, &data, 0, 0), true);
    let back = frame(b.mac, PEER_MAC, ch.peer, ch.relay, &data, 50, true);
    b.xdp
        .channel_up(&ch, Instant::now() - Duration::from_millis(1))
        .unwrap();
    passes(&b, &input, "expired, client side");
    passes(&b, &back, "expired, peer side");
    assert_eq!(b.xdp.counters().unwrap().expired, 2);
    b.xdp.channel_up(&ch, forever()).unwrap();
    assert_eq!(b.xdp.test_run(&input, IFINDEX).unwrap().0, Verdict::Tx);
    assert_eq!(b.xdp.test_run(&back, IFINDEX).unwrap().0, Verdict::Tx);
    assert_eq!(b.xdp.channels(), 1);
    b.xdp.channel_down(&ch);
    assert_eq!(b.xdp.channels(), 0);
    passes(&b, &input, "removed, client side");
    passes(&b, &back, "removed, peer side");
}

#[test]
fn a_banned_source_is_dropped_until_its_ban_ends() {
    let mut b = bench(9000);
    let ch = channel();
    b.xdp.channel_up(&ch, forever()).unwrap();
    let data = payload(40, 9);
    // One ban added on its own (as the driver does when the core starts one).
    b.xdp.ban(PEER, forever()).unwrap();
    let back0 = frame(b.mac, PEER_MAC, ch.peer, ch.relay, &data, 50, true);
    assert_eq!(b.xdp.test_run(&back0, IFINDEX).unwrap().0, Verdict::Drop);
    b.xdp.set_bans([]).unwrap();
    let input = from_client(&b, &channel_data(NUMBER, &data, 0, 0), true);
    let back = frame(b.mac, PEER_MAC, ch.peer, ch.relay, &data, 50, true);
    let stun = binding();
    let request = from_client(&b, &stun, true);
    b.xdp.set_bans([(CLIENT, forever())]).unwrap();
    for f in [&input, &request] {
        assert_eq!(b.xdp.test_run(f, IFINDEX).unwrap().0, Verdict::Drop);
    }
    // The peer is not banned: its datagrams still go to the (banned) client's channel until
    // userspace removes the channel, as the userspace path would relay them.
    assert_eq!(b.xdp.test_run(&back, IFINDEX).unwrap().0, Verdict::Tx);
    b.xdp.set_bans([(PEER, forever())]).unwrap();
    assert_eq!(b.xdp.test_run(&back, IFINDEX).unwrap().0, Verdict::Drop);
    assert_eq!(
        b.xdp.test_run(&input, IFINDEX).unwrap().0,
        Verdict::Tx,
        "lifted"
    );
    // A ban that has ended drops nothing.
    b.xdp
        .set_bans([(PEER, Instant::now() - Duration::from_millis(1))])
        .unwrap();
    assert_eq!(b.xdp.test_run(&back, IFINDEX).unwrap().0, Verdict::Tx);
    assert_eq!(b.xdp.counters().unwrap().banned, 4);
}

#[test]
fn a_source_over_its_packet_rate_is_dropped() {
    let mut b = bench(9000);
    // One packet a second, five at once: the sixth of a quick run is dropped (the run takes
    // far less than the one second that would earn another).
    b.xdp.configure(&settings(9000, 1, 5)).unwrap();
    let stun = binding();
    let request = from_client(&b, &stun, true);
    for i in 0..5 {
        passes(&b, &request, &format!("request {i} within the burst"));
    }
    assert_eq!(b.xdp.test_run(&request, IFINDEX).unwrap().0, Verdict::Drop);
    // Another source has its own bucket; peers' datagrams to relay ports are not limited.
    let other = frame(
        b.mac,
        PEER_MAC,
        SocketAddrV4::new(PEER, 40001),
        SocketAddrV4::new(SERVER, LISTEN),
        &stun,
        61,
        true,
    );
    passes(&b, &other, "another source");
    let to_relay = frame(
        b.mac,
        CLIENT_MAC,
        SocketAddrV4::new(CLIENT, 40001),
        SocketAddrV4::new(SERVER, RELAY_PORT),
        &stun,
        61,
        true,
    );
    passes(&b, &to_relay, "to a relay port");
    assert_eq!(b.xdp.counters().unwrap().rate_limited, 1);
    // ChannelData of a live channel never counts (the guard never limits data): relayed
    // when the program can, passed untouched when it cannot (no next hop for this peer).
    let ch = channel();
    b.xdp.channel_up(&ch, forever()).unwrap();
    let data = payload(30, 10);
    let input = from_client(&b, &channel_data(NUMBER, &data, 0, 0), true);
    for _ in 0..10 {
        assert_eq!(b.xdp.test_run(&input, IFINDEX).unwrap().0, Verdict::Tx);
    }
    let mut far = ch;
    far.number = 0x4002;
    far.peer = SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 9), 9000);
    b.xdp.channel_up(&far, forever()).unwrap();
    let unrouted = from_client(&b, &channel_data(0x4002, &data, 0, 0), true);
    passes(&b, &unrouted, "a live channel to a peer not seen yet");
    // The request is still over the rate; an exempt network lifts that.
    assert_eq!(b.xdp.test_run(&request, IFINDEX).unwrap().0, Verdict::Drop);
    b.xdp
        .set_exempt([(Ipv4Addr::new(10, 77, 0, 0), 24)])
        .unwrap();
    passes(&b, &request, "exempt");
    b.xdp.set_exempt([]).unwrap();
    assert_eq!(b.xdp.test_run(&request, IFINDEX).unwrap().0, Verdict::Drop);
    assert_eq!(b.xdp.counters().unwrap().rate_limited, 3);
}

#[test]
fn each_channel_keeps_its_own_record_until_its_client_closes() {
    let mut b = bench(9000);
    let ch = channel();
    let mut other = ch;
    other.number = 0x4002;
    other.peer = SocketAddrV4::new(PEER, 9002);
    b.xdp.channel_up(&ch, forever()).unwrap();
    b.xdp.channel_up(&other, forever()).unwrap();
    let run = |b: &Bench, f: &[u8]| assert_eq!(b.xdp.test_run(f, IFINDEX).unwrap().0, Verdict::Tx);
    // Three datagrams each way on the first channel, one toward the peer on the second.
    for len in [10usize, 20, 30] {
        let data = payload(len, 11);
        run(
            &b,
            &from_client(&b, &channel_data(NUMBER, &data, 0, 0), true),
        );
        run(
            &b,
            &frame(
                b.mac,
                PEER_MAC,
                ch.peer,
                ch.relay,
                &data[..len / 2],
                50,
                true,
            ),
        );
    }
    run(
        &b,
        &from_client(&b, &channel_data(0x4002, &payload(7, 12), 1, 0), true),
    );
    // A renewal keeps the record.
    b.xdp.channel_up(&ch, forever()).unwrap();
    run(
        &b,
        &from_client(&b, &channel_data(NUMBER, &payload(1, 13), 3, 0), true),
    );
    let first = b.xdp.channel_down(&ch);
    assert_eq!(
        (
            first.to_peer_packets,
            first.to_peer_bytes,
            first.to_client_packets,
            first.to_client_bytes
        ),
        (4, 61, 3, 30)
    );
    assert_eq!(b.xdp.channel_down(&ch), Default::default(), "gone already");
    // The client's close adds its live channels to those removed before, and forgets it.
    let all = b.xdp.close_client(ch.client, ch.server);
    assert_eq!(b.xdp.channels(), 0);
    assert_eq!(
        (
            all.to_peer_packets,
            all.to_peer_bytes,
            all.to_client_packets,
            all.to_client_bytes
        ),
        (5, 68, 3, 30)
    );
    assert_eq!(b.xdp.close_client(ch.client, ch.server), Default::default());
    // Another client's channel starts from zero whatever slot it gets; the totals count
    // everything.
    let mut next = ch;
    next.client = SocketAddrV4::new(CLIENT, 40002);
    b.xdp.channel_up(&next, forever()).unwrap();
    assert_eq!(
        b.xdp.close_client(next.client, next.server),
        Default::default()
    );
    let totals = b.xdp.counters().unwrap();
    assert_eq!((totals.to_peers, totals.to_clients), (5, 3));
}

/// An Ethernet + IPv6 + UDP frame (checksum computed over the IPv6 pseudo-header).
fn frame_v6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut f = Vec::new();
    f.extend_from_slice(&SERVER_MAC);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[17, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let mut udp = Vec::new();
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&(udp_len as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    let c = fold(sum(&pseudo) + sum(&udp));
    udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    f.extend_from_slice(&udp);
    f
}

#[test]
fn ipv6_clients_and_peers_pass_to_userspace_unchanged() {
    let mut b = bench(9000);
    b.xdp.channel_up(&channel(), forever()).unwrap();
    // A source over its rate and a banned IPv4 address do not touch IPv6 either.
    b.xdp.configure(&settings(9000, 1, 1)).unwrap();
    b.xdp.set_bans([(CLIENT, forever())]).unwrap();
    let client: [u8; 16] = "2001:db8::2"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let server: [u8; 16] = "2001:db8::1"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let peer: [u8; 16] = "2001:db8::3"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    for len in [0usize, 1, 100, 1400] {
        let data = payload(len, 14);
        for _ in 0..3 {
            // ChannelData of a bound channel number from an IPv6 client, to the listener.
            let cd = channel_data(NUMBER, &data, (4 - len % 4) % 4, 0);
            passes(
                &b,
                &frame_v6(client, server, 40001, LISTEN, &cd),
                "IPv6 ChannelData",
            );
            // A STUN request and a peer's datagram to a relay port.
            passes(
                &b,
                &frame_v6(client, server, 40001, LISTEN, &binding()),
                "IPv6 STUN",
            );
            passes(
                &b,
                &frame_v6(peer, server, 9000, RELAY_PORT, &data),
                "IPv6 peer datagram",
            );
        }
    }
    let c = b.xdp.counters().unwrap();
    assert_eq!(
        (c.to_peers, c.to_clients, c.banned, c.rate_limited),
        (0, 0, 0, 0)
    );
}
