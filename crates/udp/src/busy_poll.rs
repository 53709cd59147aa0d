//! Busy polling of the NIC's receive queue from an epoll instance (Linux 6.9+).

use std::io;
use std::os::fd::RawFd;

/// `struct epoll_params` of `<linux/eventpoll.h>`.
#[repr(C)]
struct EpollParams {
    busy_poll_usecs: u32,
    busy_poll_budget: u16,
    prefer_busy_poll: u8,
    pad: u8,
}

/// `EPIOCSPARAMS`: `_IOW(0x8A, 0x01, struct epoll_params)`.
const EPIOCSPARAMS: libc::c_ulong = 0x4008_8A01;

/// Sets the busy-poll parameters of epoll instance `epfd`.
pub fn set_epoll_busy_poll(epfd: RawFd, usecs: u32, budget: u16, prefer: bool) -> io::Result<()> {
    let params = EpollParams {
        busy_poll_usecs: usecs,
        busy_poll_budget: budget,
        prefer_busy_poll: u8::from(prefer),
        pad: 0,
    };
    // SAFETY: `params` is a live `struct epoll_params` the kernel only reads.
    let rc = unsafe { libc::ioctl(epfd, EPIOCSPARAMS as _, &params as *const EpollParams) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
