#!/usr/bin/env python3
"""Time pyais on the benchmark corpus: every sentence framed, checksummed,
multi-fragment messages assembled, every message decoded to an object
(`FileReaderStream` + `msg.decode()`, pyais's documented way to read a
file). Prints sentences per second; median of N passes.

    /work/venv/bin/python pyais_decode.py /work/corpus/bench/ais-1m.nmea [passes]
"""
import statistics
import sys
import time

from pyais.stream import FileReaderStream


def one_pass(path):
    n_msgs = 0
    t0 = time.perf_counter()
    for msg in FileReaderStream(path):
        msg.decode()
        n_msgs += 1
    return time.perf_counter() - t0, n_msgs


def main():
    path = sys.argv[1]
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with open(path) as f:
        n_sentences = sum(1 for line in f if line.strip())
    times = []
    for _ in range(passes):
        dt, n_msgs = one_pass(path)
        times.append(dt)
    med = statistics.median(times)
    print(f"pyais: {n_sentences} sentences, {n_msgs} messages, median {med:.2f} s "
          f"-> {n_sentences / med:,.0f} sentences/s")


if __name__ == "__main__":
    main()
