//! # ratenet
//!
//! Connectome-constrained firing-rate network experiments, as the course
//! notebook "Modelling a local circuit" does them, exact and fast.
//!
//! The modules are the pipeline, each ending in one type:
//!
//! | stage | module | produces |
//! |---|---|---|
//! | tables, download cache, cell selection | [`data`] | [`data::Connectome`] |
//! | builders, null models, numpy-compatible RNG | [`network`] | [`network::Network`] |
//! | stimulus, Euler integration, observers | [`sim`] | [`sim::Response`] |
//! | metrics and statistics | [`analysis`] | tables of numbers |
//! | experiment file, runner, results, shards | [`experiment`] | [`experiment::Results`] |

#![warn(missing_docs)]

pub mod analysis;
pub mod api;
pub mod data;
mod error;
pub mod experiment;
pub mod matrix;
pub mod network;
pub mod npy;
pub mod report;
pub mod sim;

pub use api::{Experiment, Progress, Results, RunOptions, RunStats, SetValue, Simulation};
pub use error::{Error, Result};
