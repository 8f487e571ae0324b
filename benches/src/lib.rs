//! Workloads written once per runtime, for the side-by-side `compare` binary.
