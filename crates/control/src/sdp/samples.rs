//! Real offers and enterprise descriptions the tests parse.

/// An offer of aiortc 1.16 with one audio track (host candidate on 127.0.0.1).
pub(crate) const AIORTC: &str = r"v=0
o=- 4004280456 4004280456 IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE 0
a=msid-semantic:WMS *
m=audio 46098 UDP/TLS/RTP/SAVPF 96 9 0 8
c=IN IP4 127.0.0.1
a=sendrecv
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=mid:0
a=msid:f11c6ac6-35ec-43ce-8499-da9de29f5d83 e4565b1e-3ae3-4827-8d8f-cd591cc26c73
a=rtcp:9 IN IP4 0.0.0.0
a=rtcp-mux
a=ssrc:1401344438 cname:e6bfbe9d-d6ff-42e1-8de5-9659665cc08c
a=rtpmap:96 opus/48000/2
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 46098 typ host
a=end-of-candidates
a=ice-ufrag:HYW7
a=ice-pwd:Fq3YpfdicrVJm7memzz2BQ
a=fingerprint:sha-256 21:96:60:6D:D2:FD:A6:75:82:AC:34:B5:95:A8:64:56:12:E2:05:21:2E:34:3E:23:52:96:1C:69:C1:89:52:21
a=fingerprint:sha-384 EC:10:5D:33:47:C6:F0:A5:7A:9D:1B:ED:DB:DE:A9:23:DE:91:2D:E7:69:1A:B9:28:A6:1A:3A:6C:11:F0:2F:12:9E:6A:F3:29:BE:AC:48:DB:B3:26:A0:24:DE:17:76:64
a=fingerprint:sha-512 2D:D4:2B:64:30:18:DC:3C:37:EF:AE:CD:4E:A9:6D:2E:FE:21:0C:FA:A6:71:EF:CB:70:51:C9:9C:B8:DB:4C:26:D0:AA:D4:25:DF:7B:60:51:9A:16:C2:82:EC:51:55:00:49:E2:25:60:B2:8B:2A:82:8D:CB:40:5E:1D:F0:FF:99
a=setup:actpass
";

/// A Chromium offer with audio and video, BUNDLE, trickle ICE (no candidates yet).
pub(crate) const CHROME: &str = r"v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS 6VvP8r3HYtJh5cDRCakOmP3B1wEywGuoKcrq
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Ob8S
a=ice-pwd:gl7sWmfQJE6AOYBOw7XRZf4k
a=ice-options:trickle
a=fingerprint:sha-256 4B:1A:0D:68:DC:52:E3:A3:1A:0B:FE:9C:8E:AF:6A:4F:F4:9E:38:3D:E3:B9:24:5B:9F:42:A2:0E:4C:36:EE:3E
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:6VvP8r3HYtJh5cDRCakOmP3B1wEywGuoKcrq 1a3a4b43-1e2c-4b37-a2a4-3b1bb4d1cbbc
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:3356733413 cname:0bqzHUaqdHT1Dnd0
a=ssrc:3356733413 msid:6VvP8r3HYtJh5cDRCakOmP3B1wEywGuoKcrq 1a3a4b43-1e2c-4b37-a2a4-3b1bb4d1cbbc
m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:Ob8S
a=ice-pwd:gl7sWmfQJE6AOYBOw7XRZf4k
a=ice-options:trickle
a=fingerprint:sha-256 4B:1A:0D:68:DC:52:E3:A3:1A:0B:FE:9C:8E:AF:6A:4F:F4:9E:38:3D:E3:B9:24:5B:9F:42:A2:0E:4C:36:EE:3E
a=setup:actpass
a=mid:1
a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:6VvP8r3HYtJh5cDRCakOmP3B1wEywGuoKcrq 2b2c6d1e-6f3a-4a8c-9f7e-1c2d3e4f5a6b
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 transport-cc
a=rtcp-fb:96 ccm fir
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtpmap:98 H264/90000
a=fmtp:98 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:99 rtx/90000
a=fmtp:99 apt=98
a=ssrc-group:FID 1885478286 2957418221
a=ssrc:1885478286 cname:0bqzHUaqdHT1Dnd0
a=ssrc:2957418221 cname:0bqzHUaqdHT1Dnd0
";

/// A Firefox offer: fingerprint at session level, Firefox's attribute order.
pub(crate) const FIREFOX: &str = r"v=0
o=mozilla...THIS_IS_SDPARTA-99.0 3466431187380371470 0 IN IP4 0.0.0.0
s=-
t=0 0
a=sendrecv
a=fingerprint:sha-256 3E:9B:4E:7C:0E:66:73:8A:39:35:4A:2C:5E:87:3F:0C:21:9C:0C:27:9B:86:4C:37:3C:58:3C:79:AA:77:1F:6F
a=group:BUNDLE 0
a=ice-options:trickle
a=msid-semantic:WMS *
m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101
c=IN IP4 0.0.0.0
a=sendrecv
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
a=fmtp:101 0-15
a=ice-pwd:4d7a1b3c2e5f6a7b8c9d0e1f2a3b4c5d
a=ice-ufrag:9f8e7d6c
a=mid:0
a=msid:{5b5a1c5e-3c1d-4a4e-9d7b-1f2e3d4c5b6a} {7c6b5a4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d}
a=rtcp-mux
a=rtpmap:109 opus/48000/2
a=rtpmap:9 G722/8000/1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=setup:actpass
a=ssrc:2655508255 cname:{6f5e4d3c-2b1a-0f9e-8d7c-6b5a4f3e2d1c}
";

/// A PBX's plain-RTP offer: session-level c=, RTCP on the next port.
pub(crate) const ENTERPRISE_PLAIN: &str = r"v=0
o=pbx 123 1 IN IP4 10.0.0.5
s=call
c=IN IP4 127.0.0.1
t=0 0
m=audio 40000 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
";

/// A PBX's SDES-SRTP offer: a first a=crypto line with a broken key, a usable second one.
pub(crate) const ENTERPRISE_SDES: &str = r"v=0
o=pbx 123 1 IN IP4 10.0.0.5
s=call
c=IN IP4 127.0.0.1
t=0 0
m=audio 40000 RTP/SAVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=crypto:1 AEAD_AES_256_GCM inline:AAAA
a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20
a=sendrecv
";
