//! Build the data-free random network of `examples/random_network.toml`,
//! simulate seed 0 on the engine of `ratenet run`, and print its ΔT at full
//! precision — the `delta_t` that `ratenet simulate examples/random_network.toml`
//! prints.
//!
//!     cargo run --release -p ratenet --example quickstart

use std::path::Path;

fn main() -> ratenet::Result<()> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/random_network.toml");
    let exp = ratenet::Experiment::from_path(&file)?;
    let run = exp.simulate(0, None, false)?;
    let spec = exp.spec();
    println!(
        "{} neurons ({} excitatory), condition {:?}, seed {}",
        run.n_neurons, run.n_exc, spec.conditions[0].name, run.seed
    );
    match run.delta_t() {
        Some(dt) => println!("delta_t = {dt}"),
        None => println!("delta_t: activity did not return to baseline by t_max"),
    }
    Ok(())
}
