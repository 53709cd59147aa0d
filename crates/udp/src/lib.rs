//! Batched UDP I/O for the data plane: recvmmsg/sendmmsg, GSO/GRO, probed once.
