//! Any byte string given to the npz dataset reader must give a consistent `Dataset` or an
//! `Error`: no panic, no allocation sized by an untrusted header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melgrad::data::{Dataset, NpzKeys};

fuzz_target!(|data: &[u8]| {
    if let Ok(ds) = Dataset::read_npz_bytes(data, &NpzKeys::default()) {
        ds.validate().expect("a dataset read from npz is consistent");
        assert_eq!(ds.x.len(), ds.len() * ds.segment_len());
    }
});
