//! The experiment file and `--set` parser on arbitrary text: the input's first
//! NUL-separated part is the TOML file, the others are `--set` strings (at
//! most eight). An `Err`, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let toml = parts.next().unwrap_or_default();
    let sets: Vec<String> = parts.take(8).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let path = ratenet_fuzz::scratch("toml", toml);
    if let Ok(spec) = ratenet::experiment::Spec::load(&path, &sets) {
        let _ = spec.needs_data();
    }
    if let Ok(text) = std::str::from_utf8(toml) {
        let _ = ratenet::experiment::Spec::parse(text);
    }
});
