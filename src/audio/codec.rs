//! Compressed formats (MP3, FLAC, Ogg Vorbis, and WAV encodings hound lacks) via `symphonia`.
//!
//! Strict: a packet that fails to decode is an error, not a skipped gap, so a corrupt file is
//! never silently shortened.

use std::io::Cursor;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::Decoded;

pub(super) fn decode(bytes: &[u8], ext_hint: Option<&str>) -> Result<Decoded, String> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = ext_hint {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) => "not a recognised audio format".to_string(),
            other => format!("could not read the container: {other}"),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or("no audio track")?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or("the audio track has no codec parameters")?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| format!("unsupported codec: {e}"))?;

    let mut planes: Vec<Vec<f32>> = Vec::new();
    let mut scratch: Vec<Vec<f32>> = Vec::new();
    let mut sample_rate = 0u32;
    let mut packet_index = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(format!("truncated after packet {packet_index}"))
            }
            Err(e) => return Err(format!("demuxing failed after packet {packet_index}: {e}")),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buffer = decoder
            .decode(&packet)
            .map_err(|e| format!("packet {packet_index} failed to decode: {e}"))?;
        packet_index += 1;
        if buffer.frames() == 0 {
            continue;
        }
        let rate = buffer.spec().rate();
        if sample_rate != 0 && rate != sample_rate {
            return Err(format!(
                "sample rate changes mid-stream ({sample_rate} → {rate} Hz)"
            ));
        }
        sample_rate = rate;
        buffer.copy_to_vecs_planar::<f32>(&mut scratch);
        if planes.is_empty() {
            planes.resize(scratch.len(), Vec::new());
        } else if planes.len() != scratch.len() {
            return Err(format!(
                "channel count changes mid-stream ({} → {})",
                planes.len(),
                scratch.len()
            ));
        }
        for (plane, part) in planes.iter_mut().zip(&scratch) {
            plane.extend_from_slice(part);
        }
    }
    if sample_rate == 0 {
        sample_rate = params.sample_rate.unwrap_or(0);
    }
    Ok(Decoded {
        channels: planes,
        sample_rate,
    })
}
