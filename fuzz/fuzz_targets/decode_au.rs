//! Any byte string given to the Au reader must decode or return an Error: no panic, no hang,
//! no unbounded allocation. A decoded result must hold finite samples on equal-length channels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melgrad::audio::{decode_bytes, Container};

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = decode_bytes(data, Container::Au) {
        assert!(decoded.sample_rate > 0);
        let frames = decoded.frames();
        assert!(frames > 0);
        assert!(decoded.channels.iter().all(|c| c.len() == frames));
        assert!(decoded.to_mono().iter().all(|x| x.is_finite()));
    }
});
