//! A process's CPU time from `/proc/PID/stat` (user + system time of all its threads, live
//! and exited), to turn delivered packets into packets per server CPU-second.

use std::io;

/// Clock ticks per second of `/proc` times: Linux's `USER_HZ`, which is 100 on every
/// architecture it exposes to user space.
const TICKS_PER_S: f64 = 100.0;

/// CPU seconds (user + system) used so far by process `pid`.
pub fn process_cpu_s(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&stat).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: no utime/stime fields"),
        )
    })
}

/// utime + stime from a `/proc/PID/stat` line, in seconds. The command name (field 2) is
/// in parentheses and may itself contain spaces and parentheses, so fields are counted
/// from the last `)`.
fn parse_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_S)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_tricky_name() {
        let line = "4242 (turn (x) srv) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 3 0 100 1000000 300 18446744073709551615";
        assert_eq!(parse_stat(line), Some(4.0));
    }

    #[test]
    fn malformed_lines_are_none() {
        for line in ["", "1 (x", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 x 1"] {
            assert_eq!(parse_stat(line), None, "{line:?}");
        }
    }

    #[test]
    fn reads_this_process() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu_s(std::process::id()).unwrap() >= 0.0);
    }
}
