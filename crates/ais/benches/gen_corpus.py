#!/usr/bin/env python3
"""Generate the AIS benchmark corpus: at least 1,000,000 mixed !AIVDM
sentences (types 1, 3, 4, 5 in two fragments, 18, 19, 21, 24 A/B, 27) with
positions along the Yangtze, reproducibly (seed 42), using pyais's encoder
so the input does not come from the decoder under test.

    python3 -m venv /work/venv && /work/venv/bin/pip install pyais==3.3.1
    /work/venv/bin/python crates/ais/benches/gen_corpus.py /work/corpus/bench/ais-1m.nmea
"""
import random
import sys

from pyais import encode_dict

TARGET_SENTENCES = 1_000_000
rng = random.Random(42)
NAMES = ["CHANG AN %d" % i for i in range(1, 60)] + ["JIANG HAI %d" % i for i in range(1, 60)]
PORTS = ["SHANGHAI", "NANJING", "WUHAN", "CHONGQING", "YICHANG", "TAICANG", "ZHANGJIAGANG"]


def pos():
    return round(rng.uniform(106.5, 121.9), 5), round(rng.uniform(29.5, 32.2), 5)


def mmsi():
    return 413_000_000 + rng.randrange(999_999)


def class_a(t):
    lon, lat = pos()
    return {"type": t, "mmsi": mmsi(), "status": rng.choice([0, 1, 5, 8]),
            "turn": rng.randint(-126, 126), "speed": round(rng.uniform(0, 15), 1),
            "accuracy": rng.random() < .5, "lon": lon, "lat": lat,
            "course": round(rng.uniform(0, 359.9), 1), "heading": rng.randint(0, 359),
            "second": rng.randint(0, 59), "maneuver": 0, "raim": False,
            "radio": rng.randint(0, 2**19 - 1)}


def class_b():
    lon, lat = pos()
    return {"type": 18, "mmsi": mmsi(), "speed": round(rng.uniform(0, 12), 1),
            "accuracy": rng.random() < .5, "lon": lon, "lat": lat,
            "course": round(rng.uniform(0, 359.9), 1), "heading": rng.randint(0, 359),
            "second": rng.randint(0, 59), "cs": 1, "dsc": 1, "band": 1, "msg22": 1,
            "radio": rng.randint(0, 2**20 - 1)}


def class_b_ext():
    d = class_b()
    d.update({"type": 19, "shipname": rng.choice(NAMES), "ship_type": rng.choice([70, 79, 80, 37]),
              "to_bow": rng.randint(5, 60), "to_stern": rng.randint(5, 60),
              "to_port": rng.randint(2, 8), "to_starboard": rng.randint(2, 8), "epfd": 1})
    return d


def static_voyage():
    return {"type": 5, "mmsi": mmsi(), "imo": 9_000_000 + rng.randrange(999_999),
            "callsign": "B%04d" % rng.randrange(10_000), "shipname": rng.choice(NAMES),
            "ship_type": rng.choice([70, 71, 79, 80]), "to_bow": rng.randint(10, 150),
            "to_stern": rng.randint(10, 60), "to_port": rng.randint(3, 15),
            "to_starboard": rng.randint(3, 15), "epfd": 1, "month": rng.randint(1, 12),
            "day": rng.randint(1, 28), "hour": rng.randint(0, 23), "minute": rng.randint(0, 59),
            "draught": round(rng.uniform(2, 9), 1), "destination": rng.choice(PORTS)}


def base_station():
    lon, lat = pos()
    return {"type": 4, "mmsi": 4_130_000 + rng.randrange(999), "year": 2026,
            "month": rng.randint(1, 12), "day": rng.randint(1, 28), "hour": rng.randint(0, 23),
            "minute": rng.randint(0, 59), "second": rng.randint(0, 59), "accuracy": True,
            "lon": lon, "lat": lat, "epfd": 7, "radio": rng.randint(0, 2**19 - 1)}


def aid():
    lon, lat = pos()
    return {"type": 21, "mmsi": 994_130_000 + rng.randrange(9_999), "aid_type": rng.choice([20, 24, 25, 30]),
            "name": "CJ BUOY %d" % rng.randrange(999), "lon": lon, "lat": lat, "epfd": 1,
            "second": rng.randint(0, 59)}


def long_range():
    lon, lat = pos()
    return {"type": 27, "mmsi": mmsi(), "status": rng.choice([0, 1, 5]), "lon": round(lon, 1),
            "lat": round(lat, 1), "speed": rng.randint(0, 15), "course": rng.randint(0, 359)}


def main(path):
    seq = 0
    n = 0
    with open(path, "w") as f:
        while n < TARGET_SENTENCES:
            chan = rng.choice("AB")
            r = rng.random()
            dicts = []
            if r < 0.40:
                dicts = [class_a(1)]
            elif r < 0.48:
                dicts = [class_a(3)]
            elif r < 0.68:
                dicts = [class_b()]
            elif r < 0.78:
                dicts = [static_voyage()]
            elif r < 0.84:
                m = mmsi()
                dicts = [{"type": 24, "mmsi": m, "partno": 0, "shipname": rng.choice(NAMES)},
                         {"type": 24, "mmsi": m, "partno": 1, "ship_type": rng.choice([37, 70, 79]),
                          "vendorid": "JHA", "model": 1, "serial": rng.randrange(2**20),
                          "callsign": "B%04d" % rng.randrange(10_000), "to_bow": rng.randint(3, 40),
                          "to_stern": rng.randint(3, 40), "to_port": 2, "to_starboard": 3}]
            elif r < 0.88:
                dicts = [class_b_ext()]
            elif r < 0.92:
                dicts = [base_station()]
            elif r < 0.95:
                dicts = [aid()]
            else:
                dicts = [long_range()]
            for d in dicts:
                lines = encode_dict(d, radio_channel=chan, talker_id="AI", sentence_type="VDM",
                                    seq_id=seq % 10)
                seq += 1
                for line in lines:
                    f.write(line + "\n")
                    n += 1
    print(f"{n} sentences written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ais-1m.nmea")
