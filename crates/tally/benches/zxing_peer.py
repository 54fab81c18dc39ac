"""Reads the corpus written by `label_bench N DIR` with zxing-cpp (PyPI `zxing-cpp`), the C++
ZXing the Rust rxing descends from, and prints the same table: read rate per symbology and
distortion, images per second (decode only; PNG loading is done before timing).

    python3 -m venv .venv && .venv/bin/pip install zxing-cpp pillow
    .venv/bin/python crates/tally/benches/zxing_peer.py DIR
"""
import csv
import sys
import time
from collections import OrderedDict

import zxingcpp
from PIL import Image

FORMATS = (zxingcpp.BarcodeFormat.Code39 | zxingcpp.BarcodeFormat.Code128
           | zxingcpp.BarcodeFormat.DataMatrix | zxingcpp.BarcodeFormat.QRCode)


def vin_of(text):
    t = text.strip()
    if len(t) == 18 and t[0] in "Ii":
        t = t[1:]
    return t.upper()


def main(d):
    rows = list(csv.DictReader(open(f"{d}/expected.csv", encoding="utf-8")))
    groups = OrderedDict()
    for r in rows:
        groups.setdefault((r["symbology"], r["distortion"]), []).append(r)
    print("| symbology | distortion | read | wrong | images/s |")
    print("|---|---|---|---|---|")
    total = ok_all = 0
    secs_all = 0.0
    for (sym, dist), rs in groups.items():
        imgs = [(Image.open(f"{d}/{r['file']}").convert("L"), r["vin"]) for r in rs]
        ok = wrong = 0
        t0 = time.perf_counter()
        for img, vin in imgs:
            for b in zxingcpp.read_barcodes(img, formats=FORMATS, try_rotate=True, try_downscale=True):
                if vin_of(b.text) == vin:
                    ok += 1
                else:
                    wrong += 1
        secs = time.perf_counter() - t0
        n = len(imgs)
        total += n
        ok_all += ok
        secs_all += secs
        print(f"| {sym} | {dist} | {ok}/{n} ({100 * ok / n:.0f}%) | {wrong} | {n / secs:.1f} |")
    print(f"\nall: {ok_all}/{total} read ({100 * ok_all / total:.1f}%), {total / secs_all:.1f} images/s on one thread")


if __name__ == "__main__":
    main(sys.argv[1])
