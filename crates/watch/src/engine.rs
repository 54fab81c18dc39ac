//! The engine: per-subject reorder buffers, per-sensor detector states, per-(rule, subject)
//! episodes. See the crate doc for the ordering guarantees.
//!
//! Layout for speed (no allocation per reading once a sensor is known): each sensor of a subject
//! is a *stream* (device, sensor, measurement) found through one precomputed hash; a stream holds
//! one slot per rule that applies to it, matched once when the stream is first seen. Buffered
//! readings are small `Copy` records. Strings are built only when an alarm is raised.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, Utc};
use jianghai_core::Ident;
use jianghai_core::reading::{MeasurementType, Subject};

use crate::detect::{BaselineState, Change, DewState, Held, RateState, US_PER_MS};
use crate::rules::{Detector, Rule, RuleSet};
use crate::{Alarm, Decision, EvidenceRef, Observation};

/// Most readings waiting in one subject's reorder buffer; beyond that the oldest is evaluated.
pub const MAX_PENDING: usize = 4096;

/// Counters, for the shell's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Readings passed to [`Engine::observe`].
    pub observed: u64,
    /// Readings the detectors saw.
    pub evaluated: u64,
    /// Readings not evaluated: no newer than the last evaluated reading of the same sensor
    /// (duplicates, or later than the reorder window allows).
    pub late: u64,
}

/// The watch engine. One per process (or per shard of subjects); not shared between threads.
pub struct Engine {
    rules: RuleSet,
    window_us: i64,
    subjects: Vec<SubjectState>,
    subject_index: HashMap<Subject, u32>,
    streams: Vec<Stream>,
    stream_index: HashMap<u64, u32, BuildHasherDefault<PreHashed>>,
    /// Scratch space for the key of the stream being looked up.
    key: Vec<u8>,
    stats: Stats,
}

struct SubjectState {
    subject: Subject,
    pending: VecDeque<Pending>,
    /// Latest event time seen on this subject.
    watermark: i64,
    /// Event time of the last reading released from the buffer.
    frontier: i64,
    streams: Vec<u32>,
    /// Open episodes (few at a time).
    open: Vec<Episode>,
    /// Dew-point detectors: (rule, state).
    dew: Vec<(usize, DewState)>,
    /// Combination rules that apply to this subject.
    combos: Vec<usize>,
}

struct Episode {
    rule: usize,
    /// How many of the subject's sensors (or combinations) keep it open.
    active: u32,
    evidence: Vec<EvidenceRef>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    time: i64,
    stream: u32,
    value: f64,
    in_transit: bool,
}

struct Stream {
    /// Subject kind and id, device, sensor and measurement (see `write_key`).
    key: Box<[u8]>,
    subject: u32,
    device: Ident,
    sensor: String,
    measurement: MeasurementType,
    /// Next stream with the same hash.
    next: Option<u32>,
    /// Last evaluated reading.
    last_time: i64,
    /// Last arrival: receiver's clock, and the reading.
    heard_at: i64,
    heard: (i64, f64),
    heard_in_transit: bool,
    /// Silence slots now active (so an arrival need not look at the slots when there are none).
    silent: u32,
    slots: Vec<Slot>,
}

enum Slot {
    Threshold(usize, Held),
    Rate(usize, RateState),
    Baseline(usize, BaselineState),
    /// Index into the subject's `dew`.
    Dew(usize),
    State(usize, bool),
    Silence(usize, bool),
}

/// What a slot reported: rule, raise or clear, the readings behind it and the detail text's
/// numbers (built into a string only when an alarm is raised).
struct Hit {
    rule: usize,
    change: Change,
    at: i64,
    evidence: [(u32, i64, f64); 2],
    count: usize,
    detail: Detail,
}

enum Detail {
    Threshold {
        value: f64,
    },
    Rate {
        rise: f64,
        from: (i64, f64),
        value: f64,
    },
    Baseline {
        value: f64,
        z: f64,
        mean: f64,
    },
    Dew {
        t: f64,
        rh: f64,
        dew_point: f64,
        margin: f64,
    },
    State {
        value: f64,
    },
}

impl Engine {
    pub fn new(rules: RuleSet) -> Engine {
        Engine {
            window_us: rules.reorder_window_ms() * US_PER_MS,
            rules,
            subjects: Vec::new(),
            subject_index: HashMap::new(),
            streams: Vec::new(),
            stream_index: HashMap::default(),
            key: Vec::new(),
            stats: Stats::default(),
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Takes one reading. `now` is the receiver's clock (used for silence, never for ordering).
    #[must_use]
    pub fn observe(&mut self, obs: &Observation, now: DateTime<Utc>) -> Vec<Decision> {
        let mut out = Vec::new();
        self.stats.observed += 1;
        let s = self.stream_for(obs);
        let time = obs.reading.time.timestamp_micros();
        let p = Pending {
            time,
            stream: s,
            value: obs.reading.value,
            in_transit: obs.context.in_transit,
        };
        self.hear(p, now, &mut out);
        let si = self.streams[s as usize].subject as usize;
        if time < self.subjects[si].frontier {
            // Later than the window allows: its own series can still go on in order.
            self.evaluate(si, p, &mut out);
            return out;
        }
        let subject = &mut self.subjects[si];
        let streams = &self.streams;
        // Event time first; only a tie looks at the streams (device, sensor, measurement, value).
        let before = |a: &Pending, b: &Pending| match a.time.cmp(&b.time) {
            std::cmp::Ordering::Equal => {
                let (sa, sb) = (&streams[a.stream as usize], &streams[b.stream as usize]);
                (sa.device.as_str(), sa.sensor.as_str(), sa.measurement)
                    .cmp(&(sb.device.as_str(), sb.sensor.as_str(), sb.measurement))
                    .then(a.value.total_cmp(&b.value))
                    .is_lt()
            }
            order => order.is_lt(),
        };
        let mut at = subject.pending.len();
        while at > 0 && before(&p, &subject.pending[at - 1]) {
            at -= 1;
        }
        subject.pending.insert(at, p);
        subject.watermark = subject.watermark.max(time);
        if subject.pending.len() > MAX_PENDING {
            self.release_one(si, &mut out);
        }
        let upto = self.subjects[si].watermark.saturating_sub(self.window_us);
        self.release(si, upto, &mut out);
        out
    }

    /// Lets time pass: evaluates buffered readings the reorder window behind `now`, and raises
    /// silence for sensors not heard from for their rule's time.
    #[must_use]
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Decision> {
        let mut out = Vec::new();
        let now_us = now.timestamp_micros();
        for si in 0..self.subjects.len() {
            self.release(si, now_us.saturating_sub(self.window_us), &mut out);
        }
        for s in 0..self.streams.len() {
            for k in 0..self.streams[s].slots.len() {
                let stream = &mut self.streams[s];
                let Slot::Silence(rule, active) = &mut stream.slots[k] else {
                    continue;
                };
                let Detector::Silence { after_ms } = self.rules.rules()[*rule].detector else {
                    continue;
                };
                let in_context = self.rules.rules()[*rule]
                    .scope
                    .when
                    .matches(stream.heard_in_transit);
                let quiet = now_us.saturating_sub(stream.heard_at);
                if *active || !in_context || quiet < after_ms * US_PER_MS {
                    continue;
                }
                *active = true;
                stream.silent += 1;
                let (rule, si) = (*rule, stream.subject as usize);
                let (t, v) = stream.heard;
                let detail = format!(
                    "{} of {} ({}) last reported at {}, {} minutes before {}",
                    stream.sensor,
                    stream.device,
                    stream.measurement,
                    time(t),
                    quiet / 60_000_000,
                    now,
                );
                let evidence = vec![self.evidence(s as u32, t, v)];
                self.open(si, rule, now_us, || (evidence, detail), &mut out);
                self.combine(si, now_us, &mut out);
            }
        }
        out
    }

    /// Evaluates every buffered reading now (at shutdown, or at the end of a replay).
    #[must_use]
    pub fn flush(&mut self) -> Vec<Decision> {
        let mut out = Vec::new();
        for si in 0..self.subjects.len() {
            self.release(si, i64::MAX, &mut out);
        }
        out
    }

    /// Records an arrival (for silence) and ends the stream's silences.
    fn hear(&mut self, p: Pending, now: DateTime<Utc>, out: &mut Vec<Decision>) {
        let now_us = now.timestamp_micros();
        let stream = &mut self.streams[p.stream as usize];
        stream.heard_at = now_us;
        if p.time >= stream.heard.0 {
            stream.heard = (p.time, p.value);
            stream.heard_in_transit = p.in_transit;
        }
        if stream.silent == 0 {
            return;
        }
        stream.silent = 0;
        let si = stream.subject as usize;
        let mut ended = Vec::new();
        for slot in &mut stream.slots {
            if let Slot::Silence(rule, active @ true) = slot {
                *active = false;
                ended.push(*rule);
            }
        }
        for rule in ended {
            self.close(si, rule, now_us, out);
            self.combine(si, now_us, out);
        }
    }

    fn release(&mut self, si: usize, upto: i64, out: &mut Vec<Decision>) {
        while self.subjects[si]
            .pending
            .front()
            .is_some_and(|p| p.time <= upto)
        {
            self.release_one(si, out);
        }
    }

    fn release_one(&mut self, si: usize, out: &mut Vec<Decision>) {
        if let Some(p) = self.subjects[si].pending.pop_front() {
            self.subjects[si].frontier = p.time;
            self.evaluate(si, p, out);
        }
    }

    /// Runs one reading through every slot of its stream, in rule order.
    fn evaluate(&mut self, si: usize, p: Pending, out: &mut Vec<Decision>) {
        let stream = &mut self.streams[p.stream as usize];
        if p.time <= stream.last_time {
            self.stats.late += 1;
            return;
        }
        stream.last_time = p.time;
        self.stats.evaluated += 1;
        let is_temperature = stream.measurement == MeasurementType::Temperature;
        let mut changed = false;
        for k in 0..self.streams[p.stream as usize].slots.len() {
            let rules = self.rules.rules();
            let slot = &mut self.streams[p.stream as usize].slots[k];
            let Some(hit) = step(rules, slot, &mut self.subjects[si], is_temperature, p) else {
                continue;
            };
            changed = true;
            if hit.change == Change::Clear {
                self.close(si, hit.rule, hit.at, out);
                continue;
            }
            let evidence: Vec<EvidenceRef> = hit.evidence[..hit.count]
                .iter()
                .map(|&(s, t, v)| self.evidence(s, t, v))
                .collect();
            let detail = self.detail(&self.rules.rules()[hit.rule], p.stream, &hit.detail);
            self.open(si, hit.rule, hit.at, || (evidence, detail), out);
        }
        if changed {
            self.combine(si, p.time, out);
        }
    }

    /// One more sensor meets `rule` on the subject: raises if the episode was not open.
    fn open(
        &mut self,
        si: usize,
        rule: usize,
        at: i64,
        build: impl FnOnce() -> (Vec<EvidenceRef>, String),
        out: &mut Vec<Decision>,
    ) {
        let subject = &mut self.subjects[si];
        if let Some(e) = subject.open.iter_mut().find(|e| e.rule == rule) {
            e.active += 1;
            return;
        }
        let (evidence, detail) = build();
        let r = &self.rules.rules()[rule];
        subject.open.push(Episode {
            rule,
            active: 1,
            evidence: evidence.clone(),
        });
        out.push(Decision::Raise(Alarm {
            rule: r.id.clone(),
            subject: subject.subject.clone(),
            severity: r.severity,
            title: r.title.clone(),
            detail,
            at: time(at),
            evidence,
        }));
    }

    /// One sensor stopped meeting `rule`: clears when none is left.
    fn close(&mut self, si: usize, rule: usize, at: i64, out: &mut Vec<Decision>) {
        let subject = &mut self.subjects[si];
        let Some(i) = subject.open.iter().position(|e| e.rule == rule) else {
            return;
        };
        subject.open[i].active -= 1;
        if subject.open[i].active == 0 {
            subject.open.swap_remove(i);
            out.push(Decision::Clear {
                rule: self.rules.rules()[rule].id.clone(),
                subject: subject.subject.clone(),
                at: time(at),
            });
        }
    }

    /// Combinations: open while every rule they name is open on the subject.
    fn combine(&mut self, si: usize, at: i64, out: &mut Vec<Decision>) {
        for c in 0..self.subjects[si].combos.len() {
            let subject = &self.subjects[si];
            let combo = subject.combos[c];
            let Detector::AllOf(members) = &self.rules.rules()[combo].detector else {
                continue;
            };
            let is_open = |r: usize| subject.open.iter().any(|e| e.rule == r);
            let all = members.iter().all(|&m| is_open(m));
            match (all, is_open(combo)) {
                (true, false) => {
                    let evidence: Vec<EvidenceRef> = subject
                        .open
                        .iter()
                        .filter(|e| members.contains(&e.rule))
                        .flat_map(|e| e.evidence.iter().cloned())
                        .collect();
                    let names: Vec<&str> = members
                        .iter()
                        .map(|&m| self.rules.rules()[m].id.as_str())
                        .collect();
                    let detail = format!("at once: {}", names.join(" and "));
                    self.open(si, combo, at, || (evidence, detail), out);
                }
                (false, true) => self.close(si, combo, at, out),
                _ => {}
            }
        }
    }

    fn evidence(&self, stream: u32, t: i64, value: f64) -> EvidenceRef {
        let s = &self.streams[stream as usize];
        EvidenceRef {
            device: s.device.clone(),
            sensor: s.sensor.clone(),
            time: time(t),
            value,
        }
    }

    fn detail(&self, rule: &Rule, stream: u32, d: &Detail) -> String {
        let s = &self.streams[stream as usize];
        let unit = s.measurement.canonical_unit().symbol();
        let who = format!("{} of {}", s.sensor, s.device);
        match (d, &rule.detector) {
            (Detail::Threshold { value }, Detector::Threshold(t)) => {
                let limit = match (t.above, t.below) {
                    (Some(a), Some(b)) => format!("outside {b}..{a} {unit}"),
                    (Some(a), None) if t.magnitude => format!("beyond ±{a} {unit}"),
                    (Some(a), None) => format!("above {a} {unit}"),
                    (None, Some(b)) => format!("below {b} {unit}"),
                    (None, None) => String::new(),
                };
                let held = if t.for_ms > 0 {
                    format!(" for at least {} s", t.for_ms as f64 / 1000.0)
                } else {
                    String::new()
                };
                format!("{who} read {value:.2} {unit}: {limit}{held}")
            }
            (Detail::Rate { rise, from, value }, Detector::RateOfRise(r)) => format!(
                "{who} rose {rise:.2} {unit}/min (limit {} {unit}/min): {:.2} {unit} at {} to {value:.2} {unit}",
                r.per_minute,
                from.1,
                time(from.0)
            ),
            (Detail::Baseline { value, z, mean }, Detector::Baseline(b)) => format!(
                "{who} read {value:.2} {unit}, {z:.1} σ from its baseline of {mean:.2} {unit} (limit {} σ)",
                b.z
            ),
            (
                Detail::Dew {
                    t,
                    rh,
                    dew_point,
                    margin,
                },
                Detector::DewPoint(d),
            ) => format!(
                "air at {t:.1} °C and {rh:.0} % RH has its dew point at {dew_point:.1} °C: {margin:.1} °C of margin (limit {} °C)",
                d.margin
            ),
            (Detail::State { value }, _) => format!(
                "{who} reports {} = {}{}",
                s.measurement,
                if *value >= 0.5 { "yes" } else { "no" },
                match rule.scope.when {
                    crate::When::InTransit => " in transit",
                    crate::When::Alongside => " alongside",
                    crate::When::Always => "",
                }
            ),
            _ => who,
        }
    }

    /// Finds the stream of an observation, creating it (and its subject) on first sight.
    fn stream_for(&mut self, obs: &Observation) -> u32 {
        let r = &obs.reading;
        write_key(&mut self.key, obs);
        let mut h = Fx::default();
        h.write(&self.key);
        let hash = h.finish();
        let mut at = self.stream_index.get(&hash).copied();
        while let Some(i) = at {
            let s = &self.streams[i as usize];
            if *s.key == *self.key {
                return i;
            }
            at = s.next;
        }
        let si = self.subject_for(&obs.subject);
        let idx = self.streams.len() as u32;
        let slots = self.slots_for(si, &r.sensor, r.measurement);
        self.streams.push(Stream {
            key: self.key.as_slice().into(),
            subject: si as u32,
            device: r.device.clone(),
            sensor: r.sensor.clone(),
            measurement: r.measurement,
            next: self.stream_index.insert(hash, idx),
            last_time: i64::MIN,
            heard_at: i64::MIN,
            heard: (i64::MIN, 0.0),
            heard_in_transit: false,
            silent: 0,
            slots,
        });
        self.subjects[si].streams.push(idx);
        idx
    }

    fn subject_for(&mut self, subject: &Subject) -> usize {
        if let Some(&i) = self.subject_index.get(subject) {
            return i as usize;
        }
        let rules = self.rules.rules();
        let covering = |want: fn(&Detector) -> bool| -> Vec<usize> {
            (0..rules.len())
                .filter(|&i| want(&rules[i].detector) && rules[i].scope.covers_subject(subject))
                .collect()
        };
        let dew = covering(|d| matches!(d, Detector::DewPoint(_)))
            .into_iter()
            .map(|r| (r, DewState::default()))
            .collect();
        let combos = covering(|d| matches!(d, Detector::AllOf(_)));
        let i = self.subjects.len();
        self.subjects.push(SubjectState {
            subject: subject.clone(),
            pending: VecDeque::new(),
            watermark: i64::MIN,
            frontier: i64::MIN,
            streams: Vec::new(),
            open: Vec::new(),
            dew,
            combos,
        });
        self.subject_index.insert(subject.clone(), i as u32);
        i
    }

    /// The rules that apply to a new stream, in file order.
    fn slots_for(&self, si: usize, sensor: &str, m: MeasurementType) -> Vec<Slot> {
        let subject = &self.subjects[si];
        let mut slots = Vec::new();
        for (i, rule) in self.rules.rules().iter().enumerate() {
            if !rule.scope.covers_subject(&subject.subject) || !rule.scope.covers_sensor(sensor) {
                continue;
            }
            let measured = rule.scope.measurement == Some(m);
            let slot = match &rule.detector {
                Detector::Threshold(_) if measured => Slot::Threshold(i, Held::default()),
                Detector::RateOfRise(_) if measured => Slot::Rate(i, RateState::default()),
                Detector::Baseline(_) if measured => Slot::Baseline(i, BaselineState::default()),
                Detector::State { .. } if measured => Slot::State(i, false),
                Detector::Silence { .. } if measured || rule.scope.measurement.is_none() => {
                    Slot::Silence(i, false)
                }
                Detector::DewPoint(_)
                    if matches!(
                        m,
                        MeasurementType::Temperature | MeasurementType::RelativeHumidity
                    ) =>
                {
                    match subject.dew.iter().position(|(r, _)| *r == i) {
                        Some(d) => Slot::Dew(d),
                        None => continue,
                    }
                }
                _ => continue,
            };
            slots.push(slot);
        }
        slots
    }
}

/// Steps one slot with one reading.
fn step(
    rules: &[Rule],
    slot: &mut Slot,
    subject: &mut SubjectState,
    is_temperature: bool,
    p: Pending,
) -> Option<Hit> {
    let rule = match slot {
        Slot::Threshold(r, _)
        | Slot::Rate(r, _)
        | Slot::Baseline(r, _)
        | Slot::State(r, _)
        | Slot::Silence(r, _) => *r,
        Slot::Dew(d) => subject.dew[*d].0,
    };
    let in_context = rules[rule].scope.when.matches(p.in_transit);
    let mut hit = Hit {
        rule,
        change: Change::None,
        at: p.time,
        evidence: [(p.stream, p.time, p.value); 2],
        count: 1,
        detail: Detail::State { value: p.value },
    };
    match (slot, &rules[rule].detector) {
        (Slot::Threshold(_, held), Detector::Threshold(t)) => {
            let since = held.since();
            hit.change = held.threshold(t, in_context, p.time, p.value);
            hit.detail = Detail::Threshold { value: p.value };
            if let Some((t0, v0)) = since.filter(|&(t0, _)| t0 < p.time) {
                hit.evidence[0] = (p.stream, t0, v0);
                hit.count = 2;
            }
        }
        (Slot::Rate(_, state), Detector::RateOfRise(r)) => {
            hit.change = state.step(r, in_context, p.time, p.value);
            let (rise, from) = state
                .rise(r, p.time, p.value)
                .unwrap_or((0.0, (p.time, p.value)));
            hit.detail = Detail::Rate {
                rise,
                from,
                value: p.value,
            };
            hit.evidence[0] = (p.stream, from.0, from.1);
            hit.count = 2;
        }
        (Slot::Baseline(_, state), Detector::Baseline(b)) => {
            let (change, z, mean) = state.step(b, in_context, p.value);
            hit.change = change;
            hit.detail = Detail::Baseline {
                value: p.value,
                z,
                mean,
            };
        }
        (Slot::Dew(d), Detector::DewPoint(dp)) => {
            let state = &mut subject.dew[*d].1;
            hit.change = state.step(dp, in_context, is_temperature, (p.time, p.value, p.stream));
            let (Some(t), Some(rh)) = (state.temperature, state.humidity) else {
                return None;
            };
            hit.evidence = [(t.2, t.0, t.1), (rh.2, rh.0, rh.1)];
            hit.count = 2;
            hit.detail = Detail::Dew {
                t: t.1,
                rh: rh.1,
                dew_point: state.dew_point,
                margin: state.margin,
            };
        }
        (Slot::State(_, active), Detector::State { set }) => {
            let on = in_context && (p.value >= 0.5) == *set;
            hit.change = match (*active, on) {
                (false, true) => Change::Raise,
                (true, false) => Change::Clear,
                _ => Change::None,
            };
            *active = on;
        }
        _ => return None,
    }
    (hit.change != Change::None).then_some(hit)
}

/// A stream's identity as bytes: subject kind and id, device, sensor (separated by `0xff`, which
/// never occurs in UTF-8) and the measurement's discriminant as the last byte.
fn write_key(key: &mut Vec<u8>, obs: &Observation) {
    const SEP: u8 = 0xff;
    let r = &obs.reading;
    key.clear();
    key.extend_from_slice(obs.subject.kind().as_str().as_bytes());
    key.push(SEP);
    key.extend_from_slice(obs.subject.id().as_bytes());
    key.push(SEP);
    key.extend_from_slice(r.device.as_str().as_bytes());
    key.push(SEP);
    key.extend_from_slice(r.sensor.as_bytes());
    key.push(SEP);
    key.push(r.measurement as u8);
}

fn time(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// A small fast hash for stream keys (FxHash's mixing step); the map below does not hash again.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The keys of `stream_index` are hashes already.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
