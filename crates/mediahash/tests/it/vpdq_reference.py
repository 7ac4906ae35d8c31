"""Runs Meta's vPDQ reference (the `vpdq` 0.2.5 Python binding over the C++ library) for the Rust tests.

hash VIDEO SECONDS_PER_HASH DIM...: prints `# VIDEO DIM` then the reference's lines (frame,quality,hex,ts).
compare SECONDS_PER_HASH D:Q,D:Q VIDEO...: hashes each video, then for each distance:quality tolerance pair
and every ordered pair of videos prints `d q i j query% compared%` (repr floats) computed as the C++ `matchTwoHashBrute` does, with the binding's own
hamming_distance on the binding's own features.
"""
import sys
import vpdq


def features(video, seconds_per_hash, dim):
    return vpdq.computeHash(
        video,
        seconds_per_hash=seconds_per_hash,
        downsample_width=dim,
        downsample_height=dim,
    )


def brute(q, t, distance, quality):
    # matchTwoHash.cpp: filterFeatures (quality >= tolerance), findMatches (distance < tolerance), double math.
    qf = [f for f in q if f.quality >= quality]
    tf = [f for f in t if f.quality >= quality]

    def count(a, b):
        return sum(1 for x in a if any(vpdq.hamming_distance(x.hash, y.hash) < distance for y in b))

    def pct(n, d):
        return n * 100.0 / d if d else float("nan")

    return pct(count(qf, tf), len(qf)), pct(count(tf, qf), len(tf))


def main():
    mode = sys.argv[1]
    if mode == "hash":
        video, spf, dims = sys.argv[2], float(sys.argv[3]), [int(d) for d in sys.argv[4:]]
        for dim in dims:
            print(f"# {video} {dim}")
            for h in features(video, spf, dim):
                print(f"{h.frame_number},{h.quality},{h.hex},{h.timestamp:.3f}")
    elif mode == "compare":
        spf = float(sys.argv[2])
        tolerances = [tuple(int(x) for x in p.split(":")) for p in sys.argv[3].split(",")]
        hashed = [features(v, spf, 0) for v in sys.argv[4:]]
        for distance, quality in tolerances:
            for i, q in enumerate(hashed):
                for j, t in enumerate(hashed):
                    a, b = brute(q, t, distance, quality)
                    print(f"{distance} {quality} {i} {j} {a!r} {b!r}")
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
