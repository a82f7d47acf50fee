//! Sun/NeXT AU (`.snd`), GTZAN's original format, read by hand.
//!
//! Header, all big-endian u32: magic `.snd`, data offset (≥ 24), data size (`!0` = unknown:
//! to the end of the file), encoding, sample rate, channels. Samples are interleaved and
//! big-endian. Encodings read: 1 (8-bit G.711 µ-law), 2/3/4/5 (8/16/24/32-bit linear PCM),
//! 6/7 (32/64-bit IEEE float), 27 (8-bit G.711 A-law).

use super::Decoded;

const HEADER_LEN: usize = 24;
const UNKNOWN_SIZE: u32 = u32::MAX;
/// libsndfile's limit; a larger count is a corrupt header.
const MAX_CHANNELS: usize = 1024;

pub(super) fn is_au(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && &bytes[0..4] == b".snd"
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    if !is_au(bytes) {
        return Err("missing `.snd` magic".into());
    }
    if bytes.len() < HEADER_LEN {
        return Err(format!(
            "truncated header: {} of {HEADER_LEN} bytes",
            bytes.len()
        ));
    }
    let offset = be_u32(bytes, 4) as usize;
    let size = be_u32(bytes, 8);
    let encoding = be_u32(bytes, 12);
    let sample_rate = be_u32(bytes, 16);
    let channels = be_u32(bytes, 20) as usize;
    if offset < HEADER_LEN {
        return Err(format!("data offset {offset} is inside the 24-byte header"));
    }
    if offset > bytes.len() {
        return Err(format!(
            "truncated: data offset {offset} is past the end of the file ({} bytes)",
            bytes.len()
        ));
    }
    if sample_rate == 0 {
        return Err("sample rate is 0".into());
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(format!("implausible channel count {channels}"));
    }
    let available = bytes.len() - offset;
    let data = if size == UNKNOWN_SIZE {
        &bytes[offset..]
    } else if size as usize > available {
        return Err(format!(
            "truncated: header says {size} data bytes, file has {available}"
        ));
    } else {
        &bytes[offset..offset + size as usize]
    };
    let width: usize = match encoding {
        1 | 2 | 27 => 1,
        3 => 2,
        4 => 3,
        5 | 6 => 4,
        7 => 8,
        other => return Err(format!("unsupported encoding {other}")),
    };
    let frame_bytes = width
        .checked_mul(channels)
        .ok_or_else(|| format!("absurd channel count {channels}"))?;
    if data.len() % frame_bytes != 0 && size != UNKNOWN_SIZE {
        return Err(format!(
            "truncated: {} data bytes is not a whole number of {frame_bytes}-byte frames",
            data.len()
        ));
    }
    // With an unknown size a trailing partial frame is a cut-off stream: drop it.
    let frames = data.len() / frame_bytes;
    if frames == 0 {
        return Err("no audio samples (zero-length audio)".into());
    }
    let mut planes = vec![Vec::with_capacity(frames); channels];
    for (i, sample) in data[..frames * frame_bytes].chunks_exact(width).enumerate() {
        planes[i % channels].push(decode_sample(encoding, sample));
    }
    Ok(Decoded {
        channels: planes,
        sample_rate,
    })
}

/// One big-endian sample, integer PCM scaled by 2^(bits-1) as libsndfile does.
fn decode_sample(encoding: u32, b: &[u8]) -> f32 {
    match encoding {
        1 => mulaw_to_linear(b[0]) as f32 / 32768.0,
        2 => b[0] as i8 as f32 / 128.0,
        3 => i16::from_be_bytes([b[0], b[1]]) as f32 / 32768.0,
        4 => (i32::from_be_bytes([b[0], b[1], b[2], 0]) >> 8) as f32 / 8_388_608.0,
        5 => (i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64 / 2_147_483_648.0) as f32,
        6 => f32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        7 => f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
        27 => alaw_to_linear(b[0]) as f32 / 32768.0,
        _ => unreachable!("encoding checked by decode"),
    }
}

/// G.711 µ-law byte → 16-bit linear (the classic Sun `ulaw2linear`).
fn mulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let t = ((((u & 0x0f) as i32) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

/// G.711 A-law byte → 16-bit linear (the classic Sun `alaw2linear`).
fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0f) as i32) << 4;
    match (a & 0x70) >> 4 {
        0 => t += 8,
        1 => t += 0x108,
        seg => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_tables_hit_known_values() {
        assert_eq!(mulaw_to_linear(0xff), 0);
        assert_eq!(mulaw_to_linear(0x7f), 0);
        assert_eq!(mulaw_to_linear(0x00), -32124);
        assert_eq!(mulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
        assert_eq!(alaw_to_linear(0x2a), -32256);
    }
}
