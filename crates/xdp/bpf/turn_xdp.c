// The XDP fast path of media-edge's TURN server (edge-xdp). Built by crates/xdp/build.rs
// with clang -target bpf; loaded, configured and attached by crates/xdp/src/lib.rs.
//
// What it does, for IPv4/UDP frames without IP options or fragmentation:
//  1. A source the guard banned (map `bans`, with the ban's end) is dropped, whatever port
//     it sends to (a TURN listener port or a relay port).
//  2. A source over its packet rate toward a TURN listener port (GCRA per source in the LRU
//     map `rates`, limits in `config`) is dropped. Only what userspace would rate-limit or
//     drop counts: ChannelData of a live channel (relayed here or not) never does, as the
//     userspace guard never limits data; sources in `exempt` (the guard's allow-list) never
//     are.
//  3. ChannelData from a client whose (5-tuple, channel) is in `channels` becomes a UDP
//     datagram from the relay address to the peer; a datagram from a peer whose (peer,
//     relay address) is in `peers` becomes ChannelData to the client. Checksums are
//     updated incrementally (RFC 1624), and the frame leaves with XDP_TX toward the MAC
//     address the destination's own packets last came from. Each relayed datagram is
//     counted twice: in the program's totals and in its channel's own record (`stats`,
//     per CPU, indexed by the channel's slot), which userspace reads when the channel
//     goes and adds to the allocation's usage when the allocation closes.
//
// Per relayed datagram the program does one hash lookup (`channels` or `peers`), plus one
// of `bans` while any source is banned; everything else is an array element (inlined by
// the verifier): the config, the totals, the channel's stats and its `hops` (where its
// client's and its peer's frames come from, refreshed from every frame they send on the
// channel). The LRU map `neighbours`, learned from the frames passed to the stack (a
// client's STUN requests, a peer's first datagrams), fills a channel's hops the first time.
//
// Why learned neighbours and not bpf_fib_lookup: the FIB helper refuses to answer unless IP
// forwarding is enabled on the interface, and media-edge never routes (docs/security.md).
// The next hop toward an address is taken to be the one its packets arrive from (symmetric
// paths: a peer or client on the link, or everything behind one gateway), on the interface
// the program runs on. A destination not learned yet, or learned on another interface, is
// passed to userspace, whose reply or whose peer's next packet teaches it.
// Everything else (STUN, Send/Data indications, unknown or expired channels, malformed
// ChannelData, IPv6, IP options, fragments, destinations not learned yet, frames that would
// exceed the MTU) is passed to the kernel stack unchanged: the userspace TURN server is
// the reference, and this program only ever forwards what it would forward the same way.
//
// The maps mirror the userspace state exactly: the TURN driver inserts a channel when it is
// bound (with the instant its binding, its permission or its allocation ends, whichever is
// first) and removes it when any of them ends. The program re-checks that end itself
// (bpf_ktime_get_ns is CLOCK_MONOTONIC, the clock of Rust's Instant), so an expired entry
// that userspace has not removed yet is passed to userspace, which drops it.
//
// Byte order: addresses and ports in map keys and values are in network order, as in the
// packet; the checksum arithmetic sums 16-bit words exactly as they sit in memory (the
// ones' complement sum is byte-order independent, RFC 1071 §2(B)).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2
#define MAX_LISTEN_PORTS 4
#define MAX_CHANNELS 65536
#define CHANNEL_HEADER 4
#define MAX_PAYLOAD 9000
#define FRAME_HEADERS (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))

// Keep in step with crates/xdp/src/maps.rs.
struct channel_key {
    __u32 client_ip;
    __u32 server_ip;
    __u16 client_port;
    __u16 server_port;
    __u16 number; // network order, as on the wire
    __u16 pad;
};

struct channel_val {
    __u32 relay_ip;
    __u32 peer_ip;
    __u16 relay_port;
    __u16 peer_port;
    __u32 slot; // index into `stats` and `hops`, the channel's own
    __u64 until_ns;
};

struct peer_key {
    __u32 peer_ip;
    __u32 relay_ip;
    __u16 peer_port;
    __u16 relay_port;
};

struct peer_val {
    __u32 client_ip;
    __u32 server_ip;
    __u16 client_port;
    __u16 server_port;
    __u16 number; // network order
    __u16 pad;
    __u32 slot;
    __u32 pad2;
    __u64 until_ns;
};

struct ban_val {
    __u64 until_ns;
};

struct lpm_v4 {
    __u32 prefixlen;
    __u32 addr; // network order
};

struct rate_val {
    __u64 tat_ns; // theoretical arrival time of the next packet (GCRA)
};

struct config {
    __u64 interval_ns;  // 1e9 / packets per second per source; 0: no rate limit
    __u64 tolerance_ns; // (burst - 1) * interval_ns
    __u16 listen_ports[MAX_LISTEN_PORTS]; // network order; 0: unused
    __u16 relay_min;   // host order
    __u16 relay_max;   // host order
    __u16 mtu;         // of the interface: larger rewritten packets go to userspace
    __u16 bans;        // how many sources `bans` holds (0: the lookup is skipped)
};

struct neighbour {
    __u8 mac[ETH_ALEN]; // where this address's frames come from
    __u8 own[ETH_ALEN]; // our address they were sent to
    __u32 ifindex;      // 0: not known
};

// Where a channel's client's and peer's frames come from (zeroed by userspace when it gives
// the slot to a channel).
struct hops {
    struct neighbour client;
    struct neighbour peer;
};

// A channel's own record, per CPU (summed by userspace).
struct channel_stats {
    __u64 to_peer_packets;
    __u64 to_peer_bytes;
    __u64 to_client_packets;
    __u64 to_client_bytes;
};

enum counter {
    TO_PEER_PACKETS,
    TO_PEER_BYTES,
    TO_CLIENT_PACKETS,
    TO_CLIENT_BYTES,
    BANNED_DROPS,
    RATE_DROPS,
    EXPIRED_PASSES,
    NO_ROUTE_PASSES,
    COUNTERS,
};

struct totals {
    __u64 c[COUNTERS];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, MAX_CHANNELS);
    __uint(map_flags, BPF_F_NO_PREALLOC); // written by userspace only: memory as used
    __type(key, struct channel_key);
    __type(value, struct channel_val);
} channels SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, MAX_CHANNELS);
    __uint(map_flags, BPF_F_NO_PREALLOC); // written by userspace only: memory as used
    __type(key, struct peer_key);
    __type(value, struct peer_val);
} peers SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MAX_CHANNELS);
    __type(key, __u32);
    __type(value, struct channel_stats);
} stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, MAX_CHANNELS);
    __type(key, __u32);
    __type(value, struct hops);
} hops SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_NO_PREALLOC); // written by userspace only: memory as used
    __type(key, __u32);
    __type(value, struct ban_val);
} bans SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct rate_val);
} rates SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 4096);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct lpm_v4);
    __type(value, __u8);
} exempt SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, struct neighbour);
} neighbours SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct config);
} config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct totals);
} counters SEC(".maps");

// What a frame tells about its sender's next hop, copied before any rewrite.
struct seen {
    __u8 mac[ETH_ALEN];
    __u8 own[ETH_ALEN];
};

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), on a 32-bit accumulator folded at the end.
static __always_inline __u32 csum_sub(__u32 acc, __u16 old)
{
    return acc + (__u16)~old;
}

static __always_inline __u32 csum_sub32(__u32 acc, __u32 old)
{
    return csum_sub(csum_sub(acc, (__u16)old), (__u16)(old >> 16));
}

static __always_inline __u32 csum_add32(__u32 acc, __u32 new)
{
    return acc + (__u16)new + (__u16)(new >> 16);
}

static __always_inline __u16 csum_fold(__u32 acc)
{
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    return (__u16)~acc;
}

// A 16-bit word with `b` at byte `odd` of it (and zero in the other), as loaded from memory.
static __always_inline __u16 byte_word(__u8 b, int odd)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return odd ? (__u16)b << 8 : b;
#else
    return odd ? b : (__u16)b << 8;
#endif
}

static __always_inline void ip_checksum(struct iphdr *ip)
{
    __u16 *w = (__u16 *)ip;
    __u32 acc = 0;
    ip->check = 0;
#pragma unroll
    for (int i = 0; i < 10; i++)
        acc += w[i];
    ip->check = csum_fold(acc);
}

static __always_inline int is_listen_port(const struct config *cfg, __u16 port)
{
#pragma unroll
    for (int i = 0; i < MAX_LISTEN_PORTS; i++)
        if (cfg->listen_ports[i] && cfg->listen_ports[i] == port)
            return 1;
    return 0;
}

// GCRA: a source may send a packet when the theoretical arrival time of its next packet is
// at most `tolerance` ahead of now. Races between CPUs can let a few extra packets through;
// the limit is a flood guard, not an accounting.
static __always_inline int over_rate(const struct config *cfg, __u32 source, __u64 now)
{
    struct rate_val *r = bpf_map_lookup_elem(&rates, &source);
    if (!r) {
        struct rate_val fresh = {.tat_ns = now + cfg->interval_ns};
        bpf_map_update_elem(&rates, &source, &fresh, BPF_ANY);
        return 0;
    }
    __u64 tat = r->tat_ns > now ? r->tat_ns : now;
    if (tat - now > cfg->tolerance_ns)
        return 1;
    r->tat_ns = tat + cfg->interval_ns;
    return 0;
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
           a[5] == b[5];
}

// Whether `n` already says what `seen` does (on this interface).
static __always_inline int hop_is(const struct neighbour *n, const struct seen *seen,
                                  __u32 ifindex)
{
    return n->ifindex == ifindex && mac_eq(n->mac, seen->mac) && mac_eq(n->own, seen->own);
}

// Records in `n` where the frame `seen` came from (written only when it changed: the
// common case is a compare, no store to a line other CPUs read).
static __always_inline void note_hop(struct neighbour *n, const struct seen *seen,
                                     __u32 ifindex)
{
    if (seen->own[0] & 1)
        return; // sent to a group address: not a next hop to answer through
    if (hop_is(n, seen, ifindex))
        return;
    __builtin_memcpy(n->mac, seen->mac, ETH_ALEN);
    __builtin_memcpy(n->own, seen->own, ETH_ALEN);
    n->ifindex = ifindex;
}

// Remembers which MAC address `ip`'s frames come from, on which interface, sent to which of
// ours: for a frame passed to the stack (one lookup when nothing changed).
static __always_inline void learn(const struct seen *seen, __u32 ifindex, __u32 ip)
{
    if (seen->own[0] & 1)
        return;
    struct neighbour *n = bpf_map_lookup_elem(&neighbours, &ip);
    if (n && hop_is(n, seen, ifindex))
        return;
    struct neighbour fresh = {.ifindex = ifindex};
    __builtin_memcpy(fresh.mac, seen->mac, ETH_ALEN);
    __builtin_memcpy(fresh.own, seen->own, ETH_ALEN);
    bpf_map_update_elem(&neighbours, &ip, &fresh, BPF_ANY);
}

// Where a rewritten frame to `dst` goes: the channel's own record of it (`cached`), or the
// learned neighbour (then copied into the record), on this interface, if the IP packet of
// `tot_len` bytes fits the MTU. Returns 0 and fills `hop`, or -1: the caller passes the
// frame on untouched.
static __always_inline int next_hop(struct xdp_md *ctx, const struct config *cfg,
                                    struct neighbour *cached, struct neighbour *hop,
                                    __u32 dst, __u16 tot_len)
{
    __u32 ifindex = ctx->ingress_ifindex;
    if (tot_len > cfg->mtu)
        return -1;
    if (cached->ifindex == ifindex) {
        *hop = *cached;
        return 0;
    }
    struct neighbour *n = bpf_map_lookup_elem(&neighbours, &dst);
    if (!n || n->ifindex != ifindex)
        return -1;
    *hop = *n;
    *cached = *n;
    return 0;
}

// Writes the Ethernet, IP and UDP headers of a rewritten frame at the (new) start of the
// packet. The IP header keeps its id, DSCP and DF bit; TTL is set as a new datagram's.
static __always_inline int write_headers(struct xdp_md *ctx, const struct neighbour *hop,
                                         struct iphdr *ip_tmpl, struct udphdr *udp_tmpl)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end)
        return -1;
    __builtin_memcpy(eth->h_dest, hop->mac, ETH_ALEN);
    __builtin_memcpy(eth->h_source, hop->own, ETH_ALEN);
    eth->h_proto = bpf_htons(ETH_P_IP);
    *ip = *ip_tmpl;
    ip_checksum(ip);
    *udp = *udp_tmpl;
    return 0;
}

// Trims the frame to `len` bytes (drops ChannelData padding and any Ethernet trailer).
static __always_inline int trim_to(struct xdp_md *ctx, __u32 len)
{
    __u32 have = ctx->data_end - ctx->data;
    if (have < len)
        return -1;
    if (have == len)
        return 0;
    return bpf_xdp_adjust_tail(ctx, -(int)(have - len)) ? -1 : 0;
}

// ChannelData from a client to a TURN listener.
// Sets *known when the datagram is ChannelData of a live channel (relayed or not).
static __always_inline int channel_to_peer(struct xdp_md *ctx, const struct config *cfg,
                                           struct totals *t, const struct seen *seen,
                                           struct iphdr *ip, struct udphdr *udp, void *end,
                                           __u64 now, int *known)
{
    __u16 udp_len = bpf_ntohs(udp->len);
    if (udp_len < sizeof(struct udphdr) + CHANNEL_HEADER)
        return XDP_PASS; // short header: userspace counts it malformed
    __u8 *cd = (void *)(udp + 1);
    if ((void *)(cd + CHANNEL_HEADER) > end)
        return XDP_PASS;
    if ((cd[0] >> 6) != 1)
        return XDP_PASS; // STUN (a request, an indication): userspace
    __u16 number = *(__u16 *)cd;
    __u32 clen = bpf_ntohs(*(__u16 *)(cd + 2));
    __u32 avail = udp_len - sizeof(struct udphdr) - CHANNEL_HEADER;
    if (clen > avail)
        return XDP_PASS; // truncated
    if (clen > MAX_PAYLOAD)
        return XDP_PASS; // larger than any linear XDP frame; also bounds offsets below
    __u32 pad = avail - clen;
    if (pad > ((4 - (clen & 3)) & 3))
        return XDP_PASS; // trailing bytes beyond the padding: malformed
    struct channel_key key = {
        .client_ip = ip->saddr,
        .server_ip = ip->daddr,
        .client_port = udp->source,
        .server_port = udp->dest,
        .number = number,
    };
    struct channel_val *v = bpf_map_lookup_elem(&channels, &key);
    if (!v)
        return XDP_PASS; // unknown channel, or one handed to userspace
    if (now >= v->until_ns) {
        t->c[EXPIRED_PASSES]++;
        return XDP_PASS;
    }
    *known = 1;
    struct channel_val val = *v;
    __u32 slot = val.slot;
    struct hops *h = bpf_map_lookup_elem(&hops, &slot);
    struct channel_stats *st = bpf_map_lookup_elem(&stats, &slot);
    if (!h || !st)
        return XDP_PASS; // cannot happen: userspace gives slots below MAX_CHANNELS
    note_hop(&h->client, seen, ctx->ingress_ifindex);
    __u16 new_udp_len = sizeof(struct udphdr) + clen;
    __u16 new_tot = sizeof(struct iphdr) + new_udp_len;
    struct neighbour hop;
    if (next_hop(ctx, cfg, &h->peer, &hop, val.peer_ip, new_tot) < 0) {
        t->c[NO_ROUTE_PASSES]++;
        return XDP_PASS;
    }

    struct udphdr u = *udp;
    u.source = val.relay_port;
    u.dest = val.peer_port;
    u.len = bpf_htons(new_udp_len);
    if (udp->check) {
        __u32 acc = (__u16)~udp->check;
        acc = csum_sub32(acc, ip->saddr);
        acc = csum_sub32(acc, ip->daddr);
        acc = csum_sub(acc, udp->len); // pseudo-header length
        acc = csum_sub(acc, udp->len); // UDP header length
        acc = csum_sub(acc, udp->source);
        acc = csum_sub(acc, udp->dest);
        acc = csum_sub(acc, *(__u16 *)cd);
        acc = csum_sub(acc, *(__u16 *)(cd + 2));
        // The padding goes; an odd payload's last word then ends in a zero byte.
        __u32 at = CHANNEL_HEADER + clen;
#pragma unroll
        for (int i = 0; i < 3; i++) {
            if (i < pad) {
                __u8 *p = cd + at + i;
                if ((void *)(p + 1) > end)
                    return XDP_PASS;
                acc = csum_sub(acc, byte_word(*p, (at + i) & 1));
            }
        }
        acc = csum_add32(acc, val.relay_ip);
        acc = csum_add32(acc, val.peer_ip);
        acc += u.len;
        acc += u.len;
        acc += u.source;
        acc += u.dest;
        __u16 sum = csum_fold(acc);
        u.check = sum ? sum : 0xffff;
    }
    struct iphdr i = *ip;
    i.saddr = val.relay_ip;
    i.daddr = val.peer_ip;
    i.tot_len = bpf_htons(new_tot);
    i.ttl = 64;

    // Drop the channel header: headers move 4 bytes on, the front moves with them (the
    // payload stays where it is: moving 42 bytes of headers beats moving the payload).
    if (trim_to(ctx, FRAME_HEADERS + CHANNEL_HEADER + clen) < 0)
        return XDP_PASS;
    if (bpf_xdp_adjust_head(ctx, CHANNEL_HEADER))
        return XDP_DROP; // cannot happen: the frame is longer than 4 bytes
    if (write_headers(ctx, &hop, &i, &u) < 0)
        return XDP_DROP;
    t->c[TO_PEER_PACKETS]++;
    t->c[TO_PEER_BYTES] += clen;
    st->to_peer_packets++;
    st->to_peer_bytes += clen;
    return XDP_TX;
}

// A datagram from a peer to a relay port.
static __always_inline int peer_to_channel(struct xdp_md *ctx, const struct config *cfg,
                                           struct totals *t, const struct seen *seen,
                                           struct iphdr *ip, struct udphdr *udp, __u64 now)
{
    struct peer_key key = {
        .peer_ip = ip->saddr,
        .relay_ip = ip->daddr,
        .peer_port = udp->source,
        .relay_port = udp->dest,
    };
    struct peer_val *v = bpf_map_lookup_elem(&peers, &key);
    if (!v)
        return XDP_PASS; // no channel: a Data indication, or no permission: userspace
    if (now >= v->until_ns) {
        t->c[EXPIRED_PASSES]++;
        return XDP_PASS;
    }
    struct peer_val val = *v;
    __u32 slot = val.slot;
    struct hops *h = bpf_map_lookup_elem(&hops, &slot);
    struct channel_stats *st = bpf_map_lookup_elem(&stats, &slot);
    if (!h || !st)
        return XDP_PASS; // cannot happen: userspace gives slots below MAX_CHANNELS
    note_hop(&h->peer, seen, ctx->ingress_ifindex);
    __u16 udp_len = bpf_ntohs(udp->len);
    if (udp_len < sizeof(struct udphdr) || udp_len > 0xffff - CHANNEL_HEADER - sizeof(struct iphdr))
        return XDP_PASS;
    __u16 plen = udp_len - sizeof(struct udphdr);
    __u16 new_udp_len = udp_len + CHANNEL_HEADER;
    __u16 new_tot = sizeof(struct iphdr) + new_udp_len;
    struct neighbour hop;
    if (next_hop(ctx, cfg, &h->client, &hop, val.client_ip, new_tot) < 0) {
        t->c[NO_ROUTE_PASSES]++;
        return XDP_PASS;
    }
    __u16 clen = bpf_htons(plen);
    struct udphdr u = *udp;
    u.source = val.server_port;
    u.dest = val.client_port;
    u.len = bpf_htons(new_udp_len);
    if (udp->check) {
        __u32 acc = (__u16)~udp->check;
        acc = csum_sub32(acc, ip->saddr);
        acc = csum_sub32(acc, ip->daddr);
        acc = csum_sub(acc, udp->len);
        acc = csum_sub(acc, udp->len);
        acc = csum_sub(acc, udp->source);
        acc = csum_sub(acc, udp->dest);
        acc = csum_add32(acc, val.server_ip);
        acc = csum_add32(acc, val.client_ip);
        acc += u.len;
        acc += u.len;
        acc += u.source;
        acc += u.dest;
        acc += val.number;
        acc += clen;
        __u16 sum = csum_fold(acc);
        u.check = sum ? sum : 0xffff;
    }
    struct iphdr i = *ip;
    i.saddr = val.server_ip;
    i.daddr = val.client_ip;
    i.tot_len = bpf_htons(new_tot);
    i.ttl = 64;

    if (trim_to(ctx, FRAME_HEADERS + plen) < 0)
        return XDP_PASS;
    if (bpf_xdp_adjust_head(ctx, -CHANNEL_HEADER))
        return XDP_PASS; // no headroom: userspace
    if (write_headers(ctx, &hop, &i, &u) < 0)
        return XDP_DROP;
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    __u16 *cd = data + FRAME_HEADERS;
    if ((void *)(cd + 2) > end)
        return XDP_DROP;
    cd[0] = val.number;
    cd[1] = clen;
    t->c[TO_CLIENT_PACKETS]++;
    t->c[TO_CLIENT_BYTES] += plen;
    st->to_client_packets++;
    st->to_client_bytes += plen;
    return XDP_TX;
}

SEC("xdp")
int turn_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl != 5)
        return XDP_PASS; // IP options: the stack
    if (ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(0x3fff)))
        return XDP_PASS; // fragments: the stack reassembles them
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end)
        return XDP_PASS;
    // The UDP length must fill the IP packet exactly, and the frame must hold it all (it may
    // hold more: an Ethernet trailer).
    __u16 tot = bpf_ntohs(ip->tot_len);
    if (bpf_ntohs(udp->len) != tot - sizeof(struct iphdr) || (void *)ip + tot > end)
        return XDP_PASS;
    __u32 zero = 0;
    struct config *cfg = bpf_map_lookup_elem(&config, &zero);
    struct totals *t = bpf_map_lookup_elem(&counters, &zero);
    if (!cfg || !t)
        return XDP_PASS;
    int listener = is_listen_port(cfg, udp->dest);
    __u16 dport = bpf_ntohs(udp->dest);
    if (!listener && (dport < cfg->relay_min || dport > cfg->relay_max))
        return XDP_PASS;

    __u64 now = bpf_ktime_get_ns();
    __u32 source = ip->saddr;
    if (cfg->bans) {
        struct ban_val *ban = bpf_map_lookup_elem(&bans, &source);
        if (ban && now < ban->until_ns) {
            t->c[BANNED_DROPS]++;
            return XDP_DROP;
        }
    }
    struct seen seen;
    __builtin_memcpy(seen.mac, eth->h_source, ETH_ALEN);
    __builtin_memcpy(seen.own, eth->h_dest, ETH_ALEN);
    __u32 ifindex = ctx->ingress_ifindex;
    int verdict;
    if (!listener) {
        verdict = peer_to_channel(ctx, cfg, t, &seen, ip, udp, now);
    } else {
        int known = 0;
        verdict = channel_to_peer(ctx, cfg, t, &seen, ip, udp, end, now, &known);
        // A pass leaves the frame untouched: what userspace gets is checked against the
        // rate.
        if (verdict == XDP_PASS && !known && cfg->interval_ns) {
            struct lpm_v4 key = {.prefixlen = 32, .addr = source};
            if (!bpf_map_lookup_elem(&exempt, &key) && over_rate(cfg, source, now)) {
                t->c[RATE_DROPS]++;
                return XDP_DROP;
            }
        }
    }
    if (verdict == XDP_PASS)
        learn(&seen, ifindex, source);
    return verdict;
}

// For the far end of a veth pair: native XDP on one end needs a program on the other.
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
    return XDP_PASS;
}

// Offered under either licence (the kernel wants a GPL-compatible one for some helpers).
char LICENSE[] SEC("license") = "Dual MIT/GPL";
