//! The csv table reader on arbitrary bytes: an `Err`, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ratenet_fuzz::table("csv", data));
