//! Zero-copy STUN/TURN message codec (RFC 8489, RFC 8656 attributes, ChannelData).
