//! AIS feeds: a TCP client to an aggregator (reconnecting with back-off) and a UDP listener,
//! both handing what they decode to one [`Tracking`] task.
//!
//! ```text
//! TCP aggregator ──lines──► Source (Decoder per connection) ─┐
//! UDP datagrams  ──lines──► Source (Decoder per socket)     ─┼─► channel ─► Tracking (+ silence tick)
//! ```
//!
//! With a bus ([`start_on_bus`]) the channel leads to the bus instead, partitioned by vessel,
//! and each partition's owner tracks ([`crate::bus`]).
//!
//! Lines are split on `\n` (a trailing `\r` is dropped) and capped at [`MAX_LINE`] bytes;
//! anything that is not a sentence, or cannot be assembled or decoded, is counted and logged
//! with its source, line number and reason, and the feed goes on. The decoder is the sans-IO
//! [`jianghai_ais::Decoder`]; the shell gives it the time since the feed started.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jianghai_ais::{Decoded, Decoder};
use jianghai_store::Store;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::tracking::{Stats, Tracking, TrackingConfig};

/// Longest line accepted, in bytes (an AIVDM sentence is at most 82 characters; a tag block
/// adds a few dozen).
pub const MAX_LINE: usize = 1_024;

/// Decoded messages waiting for the tracker, at most; feeds wait beyond it.
pub const QUEUE: usize = 4_096;

/// Bad lines logged per source before only every thousandth is.
const LOGGED_BAD_LINES: u64 = 20;

/// Where AIS comes from, and how tracking behaves.
#[derive(Debug, Clone, Default)]
pub struct AisConfig {
    /// Aggregators to connect to (`HOST:PORT`), each read as a stream of lines.
    pub tcp: Vec<String>,
    /// Addresses to listen on for UDP datagrams of lines.
    pub udp: Vec<String>,
    /// Tracking thresholds.
    pub tracking: TrackingConfig,
    /// Reconnection back-off: first delay, doubled up to the second.
    pub backoff: Backoff,
}

/// Reconnection delays of the TCP client.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl AisConfig {
    /// True when no feed is configured.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty()
    }
}

/// One decoded message and when it was received.
#[derive(Debug)]
pub struct Input {
    pub decoded: Decoded,
    pub received: DateTime<Utc>,
}

/// Splits a byte stream into lines of at most [`MAX_LINE`] bytes.
#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
    /// Discarding the rest of a line that was too long.
    skipping: bool,
}

/// A line the splitter could not deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadLine {
    TooLong,
    NotUtf8,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadLine::TooLong => write!(f, "line longer than {MAX_LINE} bytes"),
            BadLine::NotUtf8 => f.write_str("line is not UTF-8 text"),
        }
    }
}

impl Lines {
    /// Feeds bytes; calls `out` for every complete line (without its `\r\n`).
    pub fn push(&mut self, bytes: &[u8], mut out: impl FnMut(Result<&str, BadLine>)) {
        let mut rest = bytes;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            let (head, tail) = (&rest[..i], &rest[i + 1..]);
            rest = tail;
            if self.skipping {
                self.skipping = false;
                self.buf.clear();
                continue;
            }
            if self.buf.len() + head.len() > MAX_LINE {
                self.buf.clear();
                out(Err(BadLine::TooLong));
                continue;
            }
            self.buf.extend_from_slice(head);
            let line = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
            match std::str::from_utf8(line) {
                Ok(s) => out(Ok(s)),
                Err(_) => out(Err(BadLine::NotUtf8)),
            }
            self.buf.clear();
        }
        if self.skipping {
            return;
        }
        if self.buf.len() + rest.len() > MAX_LINE {
            self.buf.clear();
            self.skipping = true;
            out(Err(BadLine::TooLong));
        } else {
            self.buf.extend_from_slice(rest);
        }
    }

    /// Whatever is left at the end of the stream, as a last line.
    pub fn finish(&mut self, out: impl FnMut(Result<&str, BadLine>)) {
        if !self.skipping && !self.buf.is_empty() {
            self.push(b"\n", out);
        }
        self.buf.clear();
        self.skipping = false;
    }
}

/// One source of lines (a TCP connection, a UDP socket) with its own decoder.
pub struct Source {
    name: String,
    decoder: Decoder,
    origin: Instant,
    line: u64,
    bad: u64,
    stats: Arc<Stats>,
}

impl Source {
    pub fn new(name: String, stats: Arc<Stats>) -> Source {
        Source {
            name,
            decoder: Decoder::default(),
            origin: Instant::now(),
            line: 0,
            bad: 0,
            stats,
        }
    }

    /// Decodes one line; a bad line is counted and logged and gives nothing.
    pub fn handle(&mut self, line: Result<&str, BadLine>) -> Option<Decoded> {
        let now = self.origin.elapsed();
        if self.decoder.poll_timeout().is_some_and(|t| t <= now) {
            self.decoder.handle_timeout(now);
        }
        let line = line.map(str::trim);
        if line == Ok("") {
            return None;
        }
        self.line += 1;
        let result = match line {
            Ok(l) => self
                .decoder
                .handle_line(l, now)
                .map_err(|e| (e.to_string(), l)),
            Err(e) => Err((e.to_string(), "")),
        };
        match result {
            Ok(d) => {
                self.stats.line(false);
                d
            }
            Err((reason, text)) => {
                self.stats.line(true);
                self.bad += 1;
                if self.bad <= LOGGED_BAD_LINES || self.bad.is_multiple_of(1_000) {
                    // Shown without control characters (a line could carry terminal escapes).
                    let shown: String = text
                        .chars()
                        .take(100)
                        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                        .collect();
                    tracing::warn!(source = %self.name, line = self.line, bad_lines = self.bad,
                        %reason, text = %shown, "Bad AIS line skipped.");
                }
                None
            }
        }
    }
}

/// The running AIS path: the tracker and its feeds. Dropping it stops them.
pub struct AisService {
    stats: Arc<Stats>,
    udp: Vec<SocketAddr>,
    handles: Vec<JoinHandle<()>>,
}

impl AisService {
    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// The addresses the UDP listeners are bound to (port 0 picks one).
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp
    }
}

impl Drop for AisService {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

/// Starts the tracker and the configured feeds. UDP listeners are bound before this returns
/// (an address in use is an error); TCP clients connect, and reconnect, in the background.
pub async fn start(store: &Store, config: &AisConfig) -> anyhow::Result<AisService> {
    use anyhow::Context;
    let stats = Arc::new(Stats::default());
    let tracking = Tracking::new(store.clone(), config.tracking.clone())
        .await
        .context("cannot start vessel tracking")?
        .with_stats(stats.clone());
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut service = start_feeds(config, stats, tx).await?;
    service.handles.push(tokio::spawn(run_tracking(
        tracking,
        rx,
        config.tracking.silence_tick,
    )));
    Ok(service)
}

/// Starts the configured feeds with what they decode going to the bus, partitioned by
/// vessel, for the partitions' owners to track ([`crate::bus`]); lines are counted in `stats`.
pub async fn start_on_bus(
    config: &AisConfig,
    bus: &crate::bus::Bus,
    stats: Arc<Stats>,
) -> anyhow::Result<AisService> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut service = start_feeds(config, stats, tx).await?;
    service
        .handles
        .push(tokio::spawn(crate::bus::publish_ais(bus.clone(), rx)));
    Ok(service)
}

/// Binds the UDP listeners and starts the TCP clients, all sending to `tx`.
async fn start_feeds(
    config: &AisConfig,
    stats: Arc<Stats>,
    tx: mpsc::Sender<Input>,
) -> anyhow::Result<AisService> {
    use anyhow::Context;
    // Built first, so whatever was started is stopped if a later listener cannot bind.
    let mut service = AisService {
        stats: stats.clone(),
        udp: Vec::new(),
        handles: Vec::new(),
    };
    for addr in &config.udp {
        let socket = UdpSocket::bind(addr)
            .await
            .with_context(|| format!("cannot listen for AIS on udp {addr}"))?;
        let local = socket.local_addr()?;
        tracing::info!(addr = %local, "Listening for AIS over UDP.");
        service.udp.push(local);
        service
            .handles
            .push(tokio::spawn(run_udp(socket, tx.clone(), stats.clone())));
    }
    for addr in &config.tcp {
        service.handles.push(tokio::spawn(run_tcp(
            addr.clone(),
            config.backoff,
            tx.clone(),
            stats.clone(),
        )));
    }
    Ok(service)
}

/// Runs the tracker over `input` until every feed has closed, checking silence every `tick`.
pub async fn run_tracking(mut t: Tracking, mut input: mpsc::Receiver<Input>, tick: Duration) {
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            i = input.recv() => {
                let Some(i) = i else { return };
                if let Err(e) = t.handle(&i.decoded, i.received).await {
                    tracing::error!(error = %e, mmsi = i.decoded.message.mmsi(), "Cannot record an AIS message.");
                }
            }
            _ = ticks.tick() => {
                if let Err(e) = t.tick(Utc::now()).await {
                    tracing::warn!(error = %e, "AIS silence check failed; retrying next tick.");
                }
            }
        }
    }
}

/// Reads datagrams; each holds one or more lines.
async fn run_udp(socket: UdpSocket, tx: mpsc::Sender<Input>, stats: Arc<Stats>) {
    let name = socket
        .local_addr()
        .map_or_else(|_| "udp".to_string(), |a| format!("udp {a}"));
    let mut source = Source::new(name, stats);
    let mut buf = vec![0u8; 65_536];
    loop {
        let n = match socket.recv_from(&mut buf).await {
            Ok((n, _)) => n,
            Err(e) => {
                // ICMP errors and the like surface here on some systems; keep listening.
                tracing::debug!(error = %e, "AIS UDP receive failed.");
                continue;
            }
        };
        let mut lines = Lines::default();
        let mut out = Vec::new();
        let data = buf.get(..n).unwrap_or(&[]);
        lines.push(data, |l| out.extend(source.handle(l)));
        lines.finish(|l| out.extend(source.handle(l)));
        if !send_all(&tx, out).await {
            return;
        }
    }
}

async fn send_all(tx: &mpsc::Sender<Input>, decoded: Vec<Decoded>) -> bool {
    let received = Utc::now();
    for d in decoded {
        if tx
            .send(Input {
                decoded: d,
                received,
            })
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// Connects to `addr` and reads it until it closes, then reconnects after a back-off that
/// doubles up to its maximum (and starts over after a successful connection).
async fn run_tcp(addr: String, backoff: Backoff, tx: mpsc::Sender<Input>, stats: Arc<Stats>) {
    let mut delay = backoff.first;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr)).await {
            Ok(Ok(stream)) => {
                tracing::info!(%addr, "Connected to the AIS aggregator.");
                delay = backoff.first;
                match read_tcp(stream, &addr, &tx, &stats).await {
                    Ok(true) => tracing::warn!(%addr, "The AIS aggregator closed the connection."),
                    Ok(false) => return,
                    Err(e) => tracing::warn!(%addr, error = %e, "AIS connection failed."),
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(%addr, error = %e, retry_in_s = delay.as_secs_f64(), "Cannot connect to the AIS aggregator.")
            }
            Err(_) => {
                tracing::warn!(%addr, retry_in_s = delay.as_secs_f64(), "Connecting to the AIS aggregator timed out.")
            }
        }
        // Up to a quarter more, so many clients do not reconnect in step.
        let jitter = delay.mul_f64(fastrand::f64() * 0.25);
        tokio::time::sleep(delay + jitter).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// Reads one connection to its end. Ok(false) when the tracker has gone.
async fn read_tcp(
    mut stream: TcpStream,
    addr: &str,
    tx: &mpsc::Sender<Input>,
    stats: &Arc<Stats>,
) -> std::io::Result<bool> {
    let mut source = Source::new(format!("tcp {addr}"), stats.clone());
    let mut lines = Lines::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        let mut out = Vec::new();
        if n == 0 {
            lines.finish(|l| out.extend(source.handle(l)));
            return Ok(send_all(tx, out).await);
        }
        let data = buf.get(..n).unwrap_or(&[]);
        lines.push(data, |l| out.extend(source.handle(l)));
        if !send_all(tx, out).await {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Result<String, BadLine>> {
        let mut l = Lines::default();
        let mut out = Vec::new();
        for c in chunks {
            l.push(c, |x| out.push(x.map(str::to_string)));
        }
        l.finish(|x| out.push(x.map(str::to_string)));
        out
    }

    #[test]
    fn lines_span_chunks_and_lose_their_cr() {
        assert_eq!(
            split(&[b"ab", b"c\r\nde", b"f\n", b"tail"]),
            vec![Ok("abc".into()), Ok("def".into()), Ok("tail".into())]
        );
    }

    #[test]
    fn long_and_binary_lines_are_refused_and_the_stream_goes_on() {
        let long = vec![b'x'; MAX_LINE + 10];
        let out = split(&[&long[..600], &long[600..], b"\nok\n\xff\xfe\nok2\n"]);
        assert_eq!(
            out,
            vec![
                Err(BadLine::TooLong),
                Ok("ok".into()),
                Err(BadLine::NotUtf8),
                Ok("ok2".into())
            ]
        );
        // A long line within one chunk, too.
        let mut one = long.clone();
        one.extend_from_slice(b"\nfine\n");
        assert_eq!(
            split(&[&one]),
            vec![Err(BadLine::TooLong), Ok("fine".into())]
        );
    }

    #[test]
    fn a_source_counts_bad_lines_and_decodes_good_ones() {
        let stats = Arc::new(Stats::default());
        let mut s = Source::new("test".into(), stats.clone());
        assert!(s.handle(Ok("garbage")).is_none());
        assert!(s.handle(Ok("   ")).is_none());
        assert!(
            s.handle(Ok("!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5D"))
                .is_none()
        );
        assert!(s.handle(Err(BadLine::NotUtf8)).is_none());
        let d = s
            .handle(Ok("!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"))
            .expect("decoded");
        assert_eq!(d.message.mmsi(), 477_553_000);
        let c = stats.counts();
        assert_eq!((c.lines, c.bad_lines), (4, 3));
    }
}
