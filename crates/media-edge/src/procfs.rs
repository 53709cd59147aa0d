//! The process's own figures from `/proc/self` (Linux), read at scrape time.

/// What `/proc/self` says; `None` where a file could not be read or parsed.
#[derive(Debug, Default)]
pub struct Process {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, bytes.
    pub rss_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft `RLIMIT_NOFILE`.
    pub max_fds: Option<u64>,
    /// Threads.
    pub threads: Option<u64>,
}

/// Clock ticks per second of `/proc/self/stat`'s times: the kernel's `USER_HZ`, 100 on
/// every Linux architecture (the ABI fixes it, whatever `CONFIG_HZ` is).
const USER_HZ: f64 = 100.0;

/// Reads `/proc/self/{stat,status,limits,fd}`.
pub fn read() -> Process {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Process {
        cpu_seconds: cpu_seconds(),
        rss_bytes: field("VmRSS:").map(|kib| kib * 1024),
        threads: field("Threads:"),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| dir.count() as u64),
        max_fds: std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|limits| {
                limits
                    .lines()
                    .find_map(|l| l.strip_prefix("Max open files"))
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
            }),
    }
}

/// CPU time of each thread of this process whose name starts with one of `prefixes`
/// (`/proc/self/task/*/comm` and `schedstat`), seconds, sorted by name. The kernel keeps 15
/// characters of a name: threads whose names are equal that far are summed under it (the
/// data-plane names, `turn-loop-N` and `forwarder-N`, stay shorter for any worker count
/// the configuration allows).
///
/// One listing of `/proc/self/task` can miss a thread: the kernel walks the live thread list,
/// and a thread exiting meanwhile (a blocking-pool worker, another test's thread) ends the
/// walk early, after which it resumes by position, one entry too far. So the tasks are the
/// union of a few listings.
pub fn thread_cpu(prefixes: &[&str]) -> Vec<(String, f64)> {
    const LISTINGS: usize = 3;
    let task_dir = std::path::Path::new("/proc/self/task");
    let mut tasks = std::collections::BTreeSet::new();
    for _ in 0..LISTINGS {
        let Ok(listing) = std::fs::read_dir(task_dir) else {
            break;
        };
        tasks.extend(listing.filter_map(|task| Some(task.ok()?.file_name())));
    }
    let mut threads: Vec<(String, f64)> = tasks
        .iter()
        .filter_map(|task| {
            let dir = task_dir.join(task);
            let name = std::fs::read_to_string(dir.join("comm")).ok()?;
            let name = name.trim_end();
            if !prefixes.iter().any(|p| name.starts_with(p)) {
                return None;
            }
            // schedstat: time on a CPU (ns), time waiting, timeslices.
            let schedstat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
            let ns: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
            Some((name.to_owned(), ns as f64 / 1e9))
        })
        .collect();
    threads.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(String, f64)> = Vec::with_capacity(threads.len());
    for (name, seconds) in threads {
        match merged.last_mut() {
            Some(last) if last.0 == name => last.1 += seconds,
            _ => merged.push((name, seconds)),
        }
    }
    merged
}

/// utime + stime (fields 14 and 15 of `/proc/self/stat`, counted after the command name,
/// which may hold spaces and ends at the last `)`).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_this_process() {
        let p = read();
        assert!(p.cpu_seconds.unwrap() >= 0.0);
        assert!(p.rss_bytes.unwrap() > 0);
        assert!(p.open_fds.unwrap() >= 3);
        assert!(p.max_fds.unwrap() >= p.open_fds.unwrap());
        assert!(p.threads.unwrap() >= 1);
        let named = std::thread::Builder::new()
            .name("procfs-probe".into())
            .spawn(|| thread_cpu(&["procfs-probe"]))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(named.len(), 1, "{named:?}");
        assert_eq!(named[0].0, "procfs-probe");
    }
}
