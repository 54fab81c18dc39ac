"""VIN validation peer: vininfo (PyPI) on the corpus the Rust benchmark writes.

    JIANGHAI_VIN_CORPUS_OUT=/tmp/vins.txt cargo bench -p jianghai-core --bench vin
    python crates/core/benches/vin_peer.py /tmp/vins.txt

Times vininfo's check-digit verification (Vin(...).verify_checksum()) and full decoding
(manufacturer, years) over the same 100,000 VINs, median of 5 passes.
"""
import statistics
import sys
import time

from vininfo import Vin
from vininfo.exceptions import ValidationError


def check(v):
    try:
        return Vin(v).verify_checksum()
    except ValidationError:
        return False


def decode(v):
    try:
        vin = Vin(v)
        if not vin.verify_checksum():
            return False
        return (vin.manufacturer, vin.years) is not None
    except ValidationError:
        return False


def bench(fn, vins, passes=5):
    times = []
    ok = 0
    for _ in range(passes):
        t = time.perf_counter()
        ok = sum(1 for v in vins if fn(v))
        times.append(time.perf_counter() - t)
    return len(vins) / statistics.median(times), ok


vins = open(sys.argv[1]).read().split("\n")
for name, fn in (("vininfo verify_checksum", check), ("vininfo checksum+decode", decode)):
    rate, ok = bench(fn, vins)
    print(f"{name}: {rate:,.0f} VINs/s ({ok} of {len(vins)} valid)")
