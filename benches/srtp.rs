//! SRTP per-packet cost, side by side in one run: edge-srtp (in place), webrtc-srtp 0.17 and
//! the bare primitives on the same bytes. One group per profile and RTP size, e.g.
//! `aead_aes_128_gcm/172`, rows `ours/protect`, `ours/unprotect`, `webrtc-srtp/protect`,
//! `webrtc-srtp/unprotect`, `primitive/protect`, `primitive/unprotect`. The `primitive/*`
//! rows are what a protect or unprotect cannot avoid: AES-CTR over the payload plus HMAC-SHA1
//! over header, payload and ROC (tag compared for unprotect), or one AES-GCM seal or open.
//!
//! The `backend/*` groups measure each primitive with ring, aws-lc-rs and RustCrypto, the
//! measurement edge-srtp's choice of backend rests on (RustCrypto for AES-CTR and HMAC-SHA1,
//! aws-lc-rs for AES-GCM).
//!
//! Time is the benchmark thread's CPU time, not wall time: this 2-core machine is shared with
//! builds and other benches, and CPU time leaves out the time the thread waits for a core, so
//! rows measured one after another stay comparable.
//!
//! Run: `cargo bench --bench srtp -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use aes::cipher::{KeyInit, KeyIvInit, StreamCipher};
use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use edge_srtp::{Config, Inbound, MasterKey, Outbound, Profile};
use hmac::Mac;
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// The benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
struct ThreadCpu;

impl Measurement for ThreadCpu {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }
    fn end(&self, start: ThreadTime) -> Duration {
        start.elapsed()
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

/// Values in ns, byte throughput in MB/s.
struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "ns"
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        match *throughput {
            Throughput::Bytes(bytes) | Throughput::BytesDecimal(bytes) => {
                for v in values {
                    *v = bytes as f64 * 1e3 / *v;
                }
                "MB/s"
            }
            _ => "ns",
        }
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

const SIZES: [usize; 2] = [172, 1200];
const HEADER: usize = 12;

fn profiles() -> [(Profile, ProtectionProfile); 6] {
    [
        (
            Profile::Aes128CmHmacSha1_80,
            ProtectionProfile::Aes128CmHmacSha1_80,
        ),
        (
            Profile::Aes128CmHmacSha1_32,
            ProtectionProfile::Aes128CmHmacSha1_32,
        ),
        (
            Profile::Aes256CmHmacSha1_80,
            ProtectionProfile::Aes256CmHmacSha1_80,
        ),
        (
            Profile::Aes256CmHmacSha1_32,
            ProtectionProfile::Aes256CmHmacSha1_32,
        ),
        (Profile::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
        (Profile::AeadAes256Gcm, ProtectionProfile::AeadAes256Gcm),
    ]
}

/// An RTP packet of `size` bytes: 12-byte header, payload of a fixed pattern.
fn rtp(size: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00, 0, 0, 0, 0, 0x10, 0, 0xca, 0xfe, 0xba, 0xbe];
    p.extend((0..size - HEADER).map(|i| (i * 7) as u8));
    p
}

fn set_seq(p: &mut [u8], seq: u16) {
    p[2..4].copy_from_slice(&seq.to_be_bytes());
}

fn profile_groups(c: &mut Criterion<ThreadCpu>) {
    for (ours, theirs) in profiles() {
        let key = MasterKey::new(
            ours,
            &vec![0x42; ours.master_key_len()],
            &vec![0x24; ours.master_salt_len()],
        )
        .unwrap();
        for size in SIZES {
            let name = ours.sdes_name().to_lowercase();
            let mut g = c.benchmark_group(format!("{name}/{size}"));
            g.throughput(Throughput::Bytes(size as u64));
            let plain = rtp(size);

            // Each row has its own contexts and sequence numbers, starting at 0, so a
            // receiver always sees its sender's packets in order from the first one.
            let mut tx = Outbound::new(&key, &Config::default()).unwrap();
            let mut buf = [0u8; 1500];
            buf[..size].copy_from_slice(&plain);
            let mut seq = 0u16;
            g.bench_function("ours/protect", |b| {
                b.iter(|| {
                    seq = seq.wrapping_add(1);
                    set_seq(&mut buf, seq);
                    black_box(tx.protect_rtp(&mut buf, size).unwrap())
                })
            });

            let mut tx = Outbound::new(&key, &Config::default()).unwrap();
            let mut rx = Inbound::new(&key, &Config::default()).unwrap();
            let mut seq = 0u16;
            g.bench_function("ours/unprotect", |b| {
                b.iter_batched_ref(
                    || {
                        let mut p = [0u8; 1500];
                        p[..size].copy_from_slice(&plain);
                        seq = seq.wrapping_add(1);
                        set_seq(&mut p, seq);
                        let len = tx.protect_rtp(&mut p, size).unwrap();
                        (p, len)
                    },
                    |(p, len)| black_box(rx.unprotect_rtp(p, *len).unwrap()),
                    BatchSize::SmallInput,
                )
            });

            let webrtc = || Context::new(key.key(), key.salt(), theirs, None, None).unwrap();
            let mut their_tx = webrtc();
            let mut p = plain.clone();
            let mut seq = 0u16;
            g.bench_function("webrtc-srtp/protect", |b| {
                b.iter(|| {
                    seq = seq.wrapping_add(1);
                    set_seq(&mut p, seq);
                    black_box(their_tx.encrypt_rtp(&p).unwrap())
                })
            });
            let (mut their_tx, mut their_rx) = (webrtc(), webrtc());
            let mut seq = 0u16;
            g.bench_function("webrtc-srtp/unprotect", |b| {
                b.iter_batched_ref(
                    || {
                        seq = seq.wrapping_add(1);
                        set_seq(&mut p, seq);
                        their_tx.encrypt_rtp(&p).unwrap()
                    },
                    |srtp| black_box(their_rx.decrypt_rtp(srtp).unwrap()),
                    BatchSize::SmallInput,
                )
            });

            primitive_rows(&mut g, ours, &plain);
            g.finish();
        }
    }
}

/// The bare primitives on the same bytes, with keys set up once like edge-srtp's.
fn primitive_rows(g: &mut BenchmarkGroup<'_, ThreadCpu>, profile: Profile, plain: &[u8]) {
    let size = plain.len();
    let mut buf = [0u8; 1500];
    buf[..size].copy_from_slice(plain);
    match profile {
        Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => {
            use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
            let alg = if profile == Profile::AeadAes128Gcm {
                &AES_128_GCM
            } else {
                &AES_256_GCM
            };
            let key =
                LessSafeKey::new(UnboundKey::new(alg, &vec![3; profile.master_key_len()]).unwrap());
            let nonce = || Nonce::assume_unique_for_key([9; 12]);
            g.bench_function("primitive/protect", |b| {
                b.iter(|| {
                    let (head, rest) = buf.split_at_mut(HEADER);
                    let tag = key
                        .seal_in_place_separate_tag(
                            nonce(),
                            Aad::from(&*head),
                            &mut rest[..size - HEADER],
                        )
                        .unwrap();
                    buf[size..size + 16].copy_from_slice(tag.as_ref());
                })
            });
            let (head, rest) = buf.split_at_mut(HEADER);
            let tag = key
                .seal_in_place_separate_tag(nonce(), Aad::from(&*head), &mut rest[..size - HEADER])
                .unwrap();
            buf[size..size + 16].copy_from_slice(tag.as_ref());
            g.bench_function("primitive/unprotect", |b| {
                b.iter_batched_ref(
                    || buf,
                    |p| {
                        let (head, rest) = p.split_at_mut(HEADER);
                        black_box(
                            key.open_in_place(
                                nonce(),
                                Aad::from(&*head),
                                &mut rest[..size + 16 - HEADER],
                            )
                            .unwrap()
                            .len(),
                        )
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        _ => {
            let tag_len = profile.rtp_overhead();
            let key = vec![3u8; profile.master_key_len()];
            let iv = [5u8; 16];
            let aes128 = aes::Aes128::new_from_slice(&key[..16]).unwrap();
            let aes256 = (key.len() == 32).then(|| aes::Aes256::new_from_slice(&key).unwrap());
            let ctr = |data: &mut [u8]| {
                use ctr::cipher::InnerIvInit;
                match &aes256 {
                    Some(k) => {
                        ctr::Ctr128BE::from_core(ctr::CtrCore::inner_iv_init(k.clone(), &iv.into()))
                            .apply_keystream(data)
                    }
                    None => ctr::Ctr128BE::from_core(ctr::CtrCore::inner_iv_init(
                        aes128.clone(),
                        &iv.into(),
                    ))
                    .apply_keystream(data),
                }
            };
            let mac = <hmac::Hmac<sha1::Sha1> as Mac>::new_from_slice(&[7; 20]).unwrap();
            let tag = |data: &[u8]| {
                let mut m = mac.clone();
                m.update(data);
                m.update(&[0, 0, 0, 1]);
                m.finalize().into_bytes()
            };
            g.bench_function("primitive/protect", |b| {
                b.iter(|| {
                    ctr(&mut buf[HEADER..size]);
                    let t = tag(&buf[..size]);
                    buf[size..size + tag_len].copy_from_slice(&t[..tag_len]);
                })
            });
            g.bench_function("primitive/unprotect", |b| {
                b.iter(|| {
                    let t = tag(&buf[..size]);
                    let ok =
                        subtle::ConstantTimeEq::ct_eq(&t[..tag_len], &buf[size..size + tag_len]);
                    ctr(&mut buf[HEADER..size]);
                    black_box(bool::from(ok))
                })
            });
        }
    }
}

/// Each primitive under each backend that offers it (ring has no raw AES-CTR).
fn backend_groups(c: &mut Criterion<ThreadCpu>) {
    let key16 = [7u8; 16];
    let iv = [9u8; 16];

    let mut g = c.benchmark_group("backend/aes_128_ctr/160");
    g.throughput(Throughput::Bytes(160));
    let mut buf = [0u8; 160];
    let rc = aes::Aes128::new_from_slice(&key16).unwrap();
    g.bench_function("rustcrypto", |b| {
        b.iter(|| {
            use ctr::cipher::InnerIvInit;
            ctr::Ctr128BE::from_core(ctr::CtrCore::inner_iv_init(rc.clone(), &iv.into()))
                .apply_keystream(&mut buf)
        })
    });
    g.bench_function("rustcrypto-rekey", |b| {
        b.iter(|| {
            ctr::Ctr128BE::<aes::Aes128>::new(&key16.into(), &iv.into()).apply_keystream(&mut buf)
        })
    });
    use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128};
    let aws = EncryptingKey::ctr(UnboundCipherKey::new(&AES_128, &key16).unwrap()).unwrap();
    g.bench_function("aws-lc-rs", |b| {
        b.iter(|| {
            black_box(
                aws.less_safe_encrypt(&mut buf, EncryptionContext::Iv128(iv.into()))
                    .unwrap(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("backend/hmac_sha1/176");
    g.throughput(Throughput::Bytes(176));
    let data = [5u8; 176];
    let key20 = [7u8; 20];
    let rc = <hmac::Hmac<sha1::Sha1> as Mac>::new_from_slice(&key20).unwrap();
    g.bench_function("rustcrypto", |b| {
        b.iter(|| {
            let mut m = rc.clone();
            m.update(&data);
            black_box(m.finalize().into_bytes())
        })
    });
    let aws = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key20);
    g.bench_function("aws-lc-rs", |b| {
        b.iter(|| black_box(aws_lc_rs::hmac::sign(&aws, &data)))
    });
    let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key20);
    g.bench_function("ring", |b| {
        b.iter(|| black_box(ring::hmac::sign(&ring_key, &data)))
    });
    g.finish();

    for size in [160usize, 1188] {
        let mut g = c.benchmark_group(format!("backend/aes_128_gcm/{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        let aad = [1u8; 12];
        let nonce = [3u8; 12];
        let mut buf = vec![0u8; size + 16];
        let ring_key = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &key16).unwrap(),
        );
        let aws_key = aws_lc_rs::aead::LessSafeKey::new(
            aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_128_GCM, &key16).unwrap(),
        );
        use aes_gcm::AeadInPlace;
        let rc = aes_gcm::Aes128Gcm::new_from_slice(&key16).unwrap();
        g.bench_function("ring/seal", |b| {
            b.iter(|| {
                black_box(
                    ring_key
                        .seal_in_place_separate_tag(
                            ring::aead::Nonce::assume_unique_for_key(nonce),
                            ring::aead::Aad::from(&aad),
                            &mut buf[..size],
                        )
                        .unwrap(),
                )
            })
        });
        g.bench_function("aws-lc-rs/seal", |b| {
            b.iter(|| {
                black_box(
                    aws_key
                        .seal_in_place_separate_tag(
                            aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
                            aws_lc_rs::aead::Aad::from(&aad),
                            &mut buf[..size],
                        )
                        .unwrap(),
                )
            })
        });
        g.bench_function("rustcrypto/seal", |b| {
            b.iter(|| {
                black_box(
                    rc.encrypt_in_place_detached(&nonce.into(), &aad, &mut buf[..size])
                        .unwrap(),
                )
            })
        });
        let tag = aws_key
            .seal_in_place_separate_tag(
                aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
                aws_lc_rs::aead::Aad::from(&aad),
                &mut buf[..size],
            )
            .unwrap();
        buf[size..].copy_from_slice(tag.as_ref());
        g.bench_function("ring/open", |b| {
            b.iter_batched_ref(
                || buf.clone(),
                |p| {
                    black_box(
                        ring_key
                            .open_in_place(
                                ring::aead::Nonce::assume_unique_for_key(nonce),
                                ring::aead::Aad::from(&aad),
                                p,
                            )
                            .unwrap()
                            .len(),
                    )
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function("aws-lc-rs/open", |b| {
            b.iter_batched_ref(
                || buf.clone(),
                |p| {
                    black_box(
                        aws_key
                            .open_in_place(
                                aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce),
                                aws_lc_rs::aead::Aad::from(&aad),
                                p,
                            )
                            .unwrap()
                            .len(),
                    )
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function("rustcrypto/open", |b| {
            b.iter_batched_ref(
                || buf.clone(),
                |p| {
                    let (ct, t) = p.split_at_mut(size);
                    rc.decrypt_in_place_detached(&nonce.into(), &aad, ct, (&*t).into())
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = profile_groups, backend_groups
}
criterion_main!(benches);
