//! `Message::parse` on arbitrary bytes, then every getter and both integrity checks on
//! whatever it accepts. Any panic is a bug.
#![no_main]

use edge_stun::{AttrType, Attribute, IntegrityKey, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    let tid = msg.transaction_id();
    for (t, v) in msg.attributes() {
        match Attribute::decode(t, v, &tid) {
            Ok(Attribute::PasswordAlgorithms(list)) => list.iter().for_each(drop),
            Ok(Attribute::UnknownAttributes(list)) => list.iter().for_each(drop),
            _ => {}
        }
    }
    let _ = msg.xor_mapped_address();
    let _ = msg.mapped_address();
    msg.xor_peer_addresses().for_each(drop);
    msg.xor_relayed_addresses().for_each(drop);
    let _ = msg.alternate_server();
    let _ = msg.username();
    let _ = msg.userhash();
    let _ = msg.realm();
    let _ = msg.nonce();
    let _ = msg.software();
    let _ = msg.password_algorithm();
    let _ = msg.error_code();
    let _ = msg.lifetime();
    let _ = msg.channel_number();
    let _ = msg.data();
    let _ = msg.requested_transport();
    let _ = msg.requested_address_family();
    let _ = msg.additional_address_family();
    let _ = msg.address_error_code();
    let _ = msg.even_port();
    let _ = msg.reservation_token();
    let _ = msg.dont_fragment();
    let _ = msg.icmp();
    let _ = msg.priority();
    let _ = msg.use_candidate();
    let _ = msg.ice_controlled();
    let _ = msg.ice_controlling();
    let _ = msg.connection_id();
    let key = IntegrityKey::new(b"fuzz");
    let _ = msg.verify_integrity(&key);
    let _ = msg.verify_integrity_sha256(&key);
    let mut unknown = [AttrType(0); 8];
    let _ = msg.unknown_comprehension_required(&mut unknown);
});
