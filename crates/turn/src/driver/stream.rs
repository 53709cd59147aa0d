//! TCP and TLS client connections: STUN messages and padded ChannelData framed on a stream
//! (RFC 8656 §5), fed to the same core as UDP datagrams.
//!
//! Input is read into one fixed buffer per connection and framed in place; output goes
//! straight to the socket, or into a bounded per-connection queue when the socket is full.
//! A frame that does not fit the queue is dropped whole (a stream never gets half a frame).
//! TLS is rustls's sans-IO `ServerConnection` driven by the same readiness events.

use std::io::{self, Read, Write};
use std::time::Instant;

use edge_stun::Frame;
use mio::net::TcpStream;
use rustls::ServerConnection;

use super::relay::Relays;
use super::Counters;
use crate::{ClientAction, FiveTuple, Server};

/// Largest frame: a STUN message or a ChannelData frame with a 65535-byte payload, padded.
const MAX_FRAME: usize = 4 + 65535 + 3;
/// Most bytes queued toward a slow client before frames are dropped.
const MAX_QUEUED: usize = 1 << 20;
/// Plaintext handed to rustls at a time.
const TLS_CHUNK: usize = 16 * 1024;

/// One client connection over TCP or TLS.
pub(crate) struct Conn {
    stream: TcpStream,
    tls: Option<Box<ServerConnection>>,
    pub(crate) tuple: FiveTuple,
    input: Box<[u8]>,
    in_len: usize,
    output: Vec<u8>,
    out_pos: usize,
    pub(crate) last_input: Instant,
}

impl Conn {
    pub(crate) fn new(
        stream: TcpStream,
        tls: Option<ServerConnection>,
        tuple: FiveTuple,
        now: Instant,
    ) -> Self {
        Self {
            stream,
            tls: tls.map(Box::new),
            tuple,
            input: vec![0; MAX_FRAME + 20].into_boxed_slice(),
            in_len: 0,
            output: Vec::new(),
            out_pos: 0,
            last_input: now,
        }
    }

    pub(crate) fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Reads what the socket has and handles every complete frame. `Ok(false)` means the
    /// peer closed the connection or broke the framing: the caller closes it.
    pub(crate) fn on_readable(
        &mut self,
        now: Instant,
        server: &mut Server,
        relays: &mut Relays,
        reply: &mut [u8],
        answer: &mut [u8],
        counters: &Counters,
    ) -> io::Result<bool> {
        loop {
            let n = match self.read_plaintext() {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.in_len += n;
            self.last_input = now;
            if !self.handle_frames(now, server, relays, reply, answer, counters)? {
                return Ok(false);
            }
        }
        self.flush()?;
        Ok(true)
    }

    /// Reads bytes of the client's stream (decrypted for TLS) after those already buffered.
    fn read_plaintext(&mut self) -> io::Result<usize> {
        let space = &mut self.input[self.in_len..];
        let Some(tls) = self.tls.as_deref_mut() else {
            return self.stream.read(space);
        };
        loop {
            match tls.reader().read(space) {
                Ok(0) => return Ok(0),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if tls.read_tls(&mut self.stream)? == 0 {
                return Ok(0);
            }
            if let Err(e) = tls.process_new_packets() {
                // Send the alert rustls prepared, then give up on the connection.
                let _ = tls.write_tls(&mut self.stream);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // The handshake may have produced records to send.
            while tls.wants_write() {
                match tls.write_tls(&mut self.stream) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Handles each complete frame at the front of the input buffer.
    fn handle_frames(
        &mut self,
        now: Instant,
        server: &mut Server,
        relays: &mut Relays,
        reply: &mut [u8],
        answer: &mut [u8],
        counters: &Counters,
    ) -> io::Result<bool> {
        let mut start = 0;
        while start < self.in_len {
            let pending = &self.input[start..self.in_len];
            let len = match edge_stun::next_frame(pending) {
                Ok(Frame::Stun(len) | Frame::ChannelData(len)) => len,
                Ok(Frame::Incomplete(_)) => break,
                Err(_) => {
                    counters.malformed();
                    return Ok(false);
                }
            };
            let action = server.handle_client(now, self.tuple, &pending[..len], reply);
            // The frame's relay commands before its reply (a released port is free when the
            // client hears of it); an Allocate's answer goes to this connection.
            let own = self.tuple;
            relays.execute(now, server, answer, |tuple, answer| {
                if tuple == own {
                    self.queue(answer, counters);
                }
            });
            match action {
                ClientAction::Relay {
                    port,
                    peer,
                    payload,
                } => {
                    let frame = &self.input[start..start + len];
                    relays.send_one(port, peer, &frame[payload], counters);
                }
                ClientAction::Reply { len: n } => self.queue(&reply[..n], counters),
                ClientAction::None => {}
            }
            start += len;
        }
        self.input.copy_within(start..self.in_len, 0);
        self.in_len -= start;
        Ok(true)
    }

    /// Sends one whole frame, or queues it, or drops it when the queue is full.
    pub(crate) fn send(&mut self, frame: &[u8], counters: &Counters) -> io::Result<()> {
        self.queue(frame, counters);
        self.flush()
    }

    fn queue(&mut self, frame: &[u8], counters: &Counters) {
        if self.output.len() - self.out_pos + frame.len() > MAX_QUEUED {
            counters.dropped();
            return;
        }
        self.output.extend_from_slice(frame);
    }

    /// Writes queued output until the socket would block.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        let result = match self.tls.as_deref_mut() {
            None => write_out(&mut self.stream, &self.output, &mut self.out_pos),
            Some(tls) => flush_tls(tls, &mut self.stream, &self.output, &mut self.out_pos),
        };
        if self.out_pos == self.output.len() {
            self.output.clear();
            self.out_pos = 0;
        }
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }
}

fn write_out(stream: &mut TcpStream, output: &[u8], pos: &mut usize) -> io::Result<()> {
    while *pos < output.len() {
        match stream.write(&output[*pos..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *pos += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn flush_tls(
    tls: &mut ServerConnection,
    stream: &mut TcpStream,
    output: &[u8],
    pos: &mut usize,
) -> io::Result<()> {
    loop {
        while tls.wants_write() {
            tls.write_tls(stream)?;
        }
        if *pos == output.len() || tls.is_handshaking() {
            return Ok(());
        }
        let end = output.len().min(*pos + TLS_CHUNK);
        *pos += tls.writer().write(&output[*pos..end])?;
    }
}
