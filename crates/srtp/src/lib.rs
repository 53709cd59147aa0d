//! In-place, allocation-free SRTP/SRTCP protect and unprotect (RFC 3711, 6188, 7714).
