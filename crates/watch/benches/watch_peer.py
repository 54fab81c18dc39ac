"""Peer for the watch engine bench: the same ten detectors over the same corpus, vectorised with
pandas/numpy (sort by sensor and time, rolling windows by searchsorted, EWMA by pandas `ewm`,
duration by run lengths, hysteresis by forward-filling set/reset signals).

Usage: python watch_peer.py CORPUS.csv   (written by the Rust bench with JIANGHAI_WATCH_CORPUS_OUT)
Prints the alarms raised per rule (must equal the Rust bench's line) and readings per second.
"""

import statistics
import sys
import time

import numpy as np
import pandas as pd

# The same rules as RULES in benches/watch.rs.
THRESHOLDS = {  # id: (above, below, for_seconds, hysteresis)
    "hot-5min": (45.0, None, 300, 2.0),
    "very-hot-1min": (55.0, None, 60, 2.0),
    "warm": (40.0, None, 0, 1.0),
    "freezing-10min": (None, 0.0, 600, 1.0),
}
RATES = {  # id: (per_minute, over_seconds, hysteresis)
    "rise-3min": (2.0, 180, 1.0),
    "rise-5min": (1.0, 300, 0.5),
    "jump-1min": (5.0, 60, 2.0),
}
BASELINES = {  # id: (alpha, z, warmup, min_sigma, hysteresis)
    "baseline-6": (0.05, 6.0, 30, 1.0, 2.0),
    "baseline-4": (0.1, 4.0, 30, 0.5, 1.0),
    "baseline-8": (0.02, 8.0, 60, 2.0, 3.0),
}


def raises(set_, reset, first):
    """Episodes: state goes to 1 on `set_`, to 0 on `reset`, else stays; counts 0 -> 1 steps."""
    sig = np.where(set_, 1.0, np.where(reset, 0.0, np.nan))
    sig[first & np.isnan(sig)] = 0.0
    state = pd.Series(sig).ffill().to_numpy()
    prev = np.concatenate(([0.0], state[:-1]))
    prev[first] = 0.0
    return int(np.count_nonzero((state == 1.0) & (prev == 0.0)))


def detect(df):
    df = df.sort_values(["sensor", "time_s"], kind="stable")
    s = df["sensor"].to_numpy()
    t = df["time_s"].to_numpy()
    v = df["value"].to_numpy()
    first = np.concatenate(([True], s[1:] != s[:-1]))
    out = {}

    for rid, (above, below, for_s, h) in THRESHOLDS.items():
        on = np.zeros(len(v), bool)
        hold = np.zeros(len(v), bool)
        if above is not None:
            on |= v > above
            hold |= v > above - h
        if below is not None:
            on |= v < below
            hold |= v < below + h
        prev_on = np.concatenate(([False], on[:-1]))
        run = np.cumsum(first | (on != prev_on))
        run_start = pd.Series(t).groupby(run).transform("first").to_numpy()
        out[rid] = raises(on & (t - run_start >= for_s), ~hold, first)

    key = s.astype(np.int64) * 10_000_000 + t
    for rid, (per_minute, over, h) in RATES.items():
        i0 = np.searchsorted(key, key - over, side="left")
        dt = t - t[i0]
        valid = dt >= over // 2
        with np.errstate(divide="ignore", invalid="ignore"):
            rise = (v - v[i0]) / (dt / 60.0)
        out[rid] = raises(valid & (rise >= per_minute), valid & ~(rise >= per_minute - h), first)

    groups = pd.Series(v).groupby(s)
    n = groups.cumcount().to_numpy()
    for rid, (alpha, z, warmup, min_sigma, h) in BASELINES.items():
        mean = groups.transform(lambda x: x.ewm(alpha=alpha, adjust=False).mean()).to_numpy()
        sq = pd.Series(v * v).groupby(s).transform(
            lambda x: x.ewm(alpha=alpha, adjust=False).mean()).to_numpy()
        var = np.maximum(sq - mean * mean, 0.0)
        # Score each reading against the baseline before it.
        prev_mean = np.concatenate(([0.0], mean[:-1]))
        prev_var = np.concatenate(([0.0], var[:-1]))
        sigma = np.maximum(np.sqrt(prev_var), min_sigma)
        score = np.abs(v - prev_mean) / sigma
        valid = n >= warmup
        out[rid] = raises(valid & (score > z), valid & ~(score > z - h), first)
    return out


def main():
    df = pd.read_csv(sys.argv[1], dtype={"sensor": np.int64, "time_s": np.int64,
                                         "value": np.float64})
    counts = detect(df)
    print("raised:", sorted(counts.items()))
    wall, cpu = [], []
    for _ in range(5):
        start, start_cpu = time.perf_counter(), time.thread_time()
        detect(df)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    print(f"{len(df)} readings, 10 rules each (pandas {pd.__version__}, numpy {np.__version__}), "
          f"median of 5 passes: {len(df) / statistics.median(wall):,.0f} readings/s wall, "
          f"{len(df) / statistics.median(cpu):,.0f} readings per CPU-second")


if __name__ == "__main__":
    main()
