//! Benchmarks run by subcommands of the binary. Each measures against a
//! baseline taken in the same run and prints the ratio, because these
//! machines are noisy: a ratio survives noise that an absolute time does not.

pub(crate) mod audit;
pub(crate) mod policy;
pub(crate) mod spawn;
