//! Analysis: statistics over runs (the ΔT metric itself lives with the
//! simulation's observer, which decides it step by step).

pub mod spectrum;
pub mod stats;
