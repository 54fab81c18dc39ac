//! `gpsdecode -j` look-alike over the pure core: AIVDM lines on stdin, one
//! gpsd JSON-AIS object per message on stdout, bad lines on stderr with
//! their line number. Used by the benchmark and the gpsdecode cross-check;
//! the real command is `jianghai ais decode`.
//!
//! ```text
//! cargo run --release -p jianghai-ais --example decode_json < sentences.nmea
//! ```

use std::io::{self, BufWriter, Read, Write};

fn main() -> io::Result<()> {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut errors = 0usize;
    for item in jianghai_ais::gpsd::decode_lines(input.lines()).device("stdin") {
        match item {
            Ok(json) => {
                out.write_all(json.as_bytes())?;
                out.write_all(b"\n")?;
            }
            Err(e) => {
                errors += 1;
                if errors <= 20 {
                    eprintln!("{e}");
                }
            }
        }
    }
    out.flush()?;
    if errors > 20 {
        eprintln!("... {errors} bad lines in all");
    }
    Ok(())
}
