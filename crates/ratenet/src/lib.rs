//! # ratenet
//!
//! Connectome-constrained firing-rate network experiments, as the course
//! notebook "Modelling a local circuit" does them, exact and fast.
//!
//! ```
//! use ratenet::{Experiment, RunOptions};
//!
//! // The notebook's data-free network: an experiment file as text (or `Experiment::from_path`).
//! let exp = Experiment::from_toml_str(
//!     "[network]\nkind = \"random\"\nn_neurons = 200\n[simulation]\nt_max = 30.0\n[sweep]\nseeds = \"0-3\"\n",
//! )?
//! .set("network.g", 0.002)?; // as `--set network.g=0.002`
//! let one = exp.simulate(0, None, false)?; // seed 0 alone, as `ratenet simulate`
//! let all = exp.run(&RunOptions::default())?; // every seed, on all cores; nothing written
//! assert_eq!(all.rows()[0].delta_t(), one.delta_t()); // the same engine, the same bits
//! println!("ΔT of seed 0: {:?} s; summary: {:?}", one.delta_t(), all.summary_batch()?);
//! # Ok::<(), ratenet::Error>(())
//! ```
//!
//! [`Experiment`] is the front door: [`Experiment::run`] writes what
//! `ratenet run` writes when given an output folder ([`RunOptions::out`]),
//! [`Experiment::network`] and [`Experiment::connectome`] give the matrices,
//! and [`report`] draws the figures and the report.
//!
//! The modules are the pipeline, each ending in one type:
//!
//! | stage | module | produces |
//! |---|---|---|
//! | tables, download cache, cell selection | [`data`] | [`data::Connectome`] |
//! | builders, null models, numpy-compatible RNG | [`network`] | [`network::Network`] |
//! | kernels, operator, integrators, transfer functions, observers and metrics | [`sim`] | [`sim::Response`] |
//! | metrics and statistics | [`analysis`] | tables of numbers |
//! | experiment file, runner, results, shards | [`experiment`] | [`experiment::Results`] |
//! | figures, report, manifest | [`report`] | an output folder |

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

pub use api::{Experiment, MotifOptions, Motifs, Progress, Results, RunOptions, RunStats, SetValue, Simulation};
pub use error::{Error, Result};
