//! A process's CPU time, to turn delivered packets into packets per server CPU-second:
//! the sum over its threads of `/proc/PID/task/TID/schedstat` (nanoseconds on a CPU), or,
//! where the kernel has no schedstat, `/proc/PID/stat` utime + stime (10 ms ticks, threads
//! that exited included). The load phase is measured between two readings, so only threads
//! that live through it matter: a server's workers do.

use std::io;

/// Clock ticks per second of `/proc` times: Linux's `USER_HZ`, which is 100 on every
/// architecture it exposes to user space.
const TICKS_PER_S: f64 = 100.0;

/// CPU seconds used so far by process `pid`, all threads.
pub fn process_cpu_s(pid: u32) -> io::Result<f64> {
    match threads_cpu_ns(pid) {
        Ok(ns) => Ok(ns as f64 / 1e9),
        Err(_) => stat_cpu_s(pid),
    }
}

/// The sum of the threads' schedstat run times, ns.
fn threads_cpu_ns(pid: u32) -> io::Result<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        match std::fs::read_to_string(&path) {
            Ok(text) => total += parse_schedstat(&text).ok_or_else(|| malformed(&path))?,
            // A thread that ended between the listing and the read.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

fn malformed(path: &std::path::Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: unexpected format", path.display()),
    )
}

/// The first field of a schedstat line: time spent on a CPU, ns.
fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// utime + stime of `/proc/PID/stat`, seconds.
fn stat_cpu_s(pid: u32) -> io::Result<f64> {
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
    fn schedstat_lines() {
        assert_eq!(parse_schedstat("1064348 588290 3\n"), Some(1_064_348));
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[test]
    fn reads_this_process() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let pid = std::process::id();
        let fine = process_cpu_s(pid).unwrap();
        let coarse = stat_cpu_s(pid).unwrap();
        assert!(fine > 0.0);
        // Both count the same time (the test harness's exited threads only in the coarse one).
        assert!(fine <= coarse + 0.05, "schedstat {fine} s, stat {coarse} s");
    }
}
