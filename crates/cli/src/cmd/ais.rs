//! `jianghai ais decode`: a streaming `gpsdecode -j` over the pure `ais` core.

use std::io::{BufRead, BufWriter, Write};
use std::time::Instant;

use jianghai_ais::{DecodeError, Decoder, DecoderError, gpsd};

use super::Outcome;

/// Longest line considered; NMEA sentences are at most 82 characters, tag blocks add some.
const MAX_LINE: usize = 4096;

pub fn decode(device: Option<&str>) -> anyhow::Result<Outcome> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut decoder = Decoder::default();
    let started = Instant::now();
    let mut buf = Vec::with_capacity(256);
    let mut json = String::with_capacity(512);
    let (mut line_no, mut malformed, mut unsupported) = (0usize, 0usize, 0usize);
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        if buf.len() > MAX_LINE {
            malformed += 1;
            eprintln!("line {line_no}: longer than {MAX_LINE} bytes");
            continue;
        }
        let Ok(line) = std::str::from_utf8(&buf) else {
            malformed += 1;
            eprintln!("line {line_no}: not UTF-8 text");
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Wall time since start drives eviction of stale fragments.
        match decoder.handle_line(line, started.elapsed()) {
            Ok(Some(d)) => {
                json.clear();
                gpsd::write_json(&mut json, &d.message, device);
                json.push('\n');
                out.write_all(json.as_bytes())?;
            }
            Ok(None) => {}
            Err(DecoderError::Decode(e @ DecodeError::Unsupported(_))) => {
                unsupported += 1;
                eprintln!("line {line_no}: {e}");
            }
            Err(e) => {
                malformed += 1;
                eprintln!("line {line_no}: {e}");
            }
        }
    }
    out.flush()?;
    if malformed + unsupported > 0 {
        eprintln!(
            "{line_no} lines: {malformed} malformed, {unsupported} of unsupported message types"
        );
    }
    Ok(if malformed == 0 {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}
