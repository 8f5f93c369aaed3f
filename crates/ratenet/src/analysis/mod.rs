//! Analysis: statistics over runs and motif statistics of the E–E matrix (the ΔT metric itself lives with the
//! simulation's observer, which decides it step by step).

pub mod motifs;
pub mod spectrum;
pub mod stats;
