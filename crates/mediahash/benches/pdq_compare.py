#!/usr/bin/env python3
"""PDQ benchmark in one run: jikimi's index vs a Rust linear scan vs FAISS; realistic hashes; hashing
throughput against pdqhash (Meta's C++ through Cython). Single thread everywhere.

Usage (from the repository root; builds nothing, expects the release binary):
    cargo build --release -p jikimi
    python3 crates/mediahash/benches/pdq_compare.py [--n 1000000] [--queries 1000] [--images 2000]
        [--jpegs 100] [--n-memory 10000000]

Creates a venv under $HOME/.cache/jikimi-venvs/mediahash (faiss-cpu, pdqhash==0.2.8, numpy, pillow) on
first use and re-executes itself inside it. Work files go to a temporary directory.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

VENV = pathlib.Path.home() / ".cache" / "jikimi-venvs" / "mediahash"
PACKAGES = ["faiss-cpu", "pdqhash==0.2.8", "numpy", "pillow"]
ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN = ROOT / "target" / "release" / "jikimi"


def ensure_venv():
    py = VENV / "bin" / "python"
    if pathlib.Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    os.execv(str(py), [str(py), *sys.argv])


ensure_venv()
os.environ.setdefault("OMP_NUM_THREADS", "1")

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import pdqhash  # noqa: E402
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter  # noqa: E402

faiss.omp_set_num_threads(1)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bits_to_bytes(bits):
    """pdqhash bit vector (index 0 = MSB of the hex string) -> 32 bytes in hex order."""
    return np.packbits(np.asarray(bits, dtype=np.uint8))


def jikimi(*args):
    out = subprocess.run([str(BIN), "pdq", *args], check=True, capture_output=True, text=True)
    return out.stdout


def jikimi_bench(*args):
    out = subprocess.run([str(BIN), "bench", "pdq", *args], check=True, capture_output=True, text=True)
    return out.stdout


def read_rust_results(path, nq):
    res = [set() for _ in range(nq)]
    with open(path) as f:
        for line in f:
            q, i, d = line.split()
            res[int(q)].add((int(i), int(d)))
    return res


def faiss_range(index, queries, radius):
    """All results with distance <= radius (FAISS binary range_search is strict: < radius)."""
    t = time.perf_counter()
    lims, dist, ids = index.range_search(queries, radius + 1)
    el = time.perf_counter() - t
    res = [set(zip(ids[lims[i]:lims[i + 1]].tolist(), dist[lims[i]:lims[i + 1]].tolist()))
           for i in range(len(queries))]
    return res, el


def index_comparison(work, db, queries, radius, label):
    nq = len(queries)
    db_path, q_path, r_path = work / f"{label}_db.bin", work / f"{label}_q.bin", work / f"{label}_res.txt"
    db.tofile(db_path)
    queries.tofile(q_path)
    rust = json.loads(jikimi_bench("index", "--db", str(db_path), "--queries", str(q_path),
                             "--radius", str(radius), "--linear", "--results", str(r_path)))
    rust_res = read_rust_results(r_path, nq)
    out = {"label": label, "n": len(db), "queries": nq, "radius": radius, "rust": rust}

    m0 = rss_bytes()
    flat = faiss.IndexBinaryFlat(256)
    flat.add(db)
    out["faiss_flat_rss_bytes"] = rss_bytes() - m0
    truth, el = faiss_range(flat, queries, radius)
    out["faiss_flat_ms_per_query"] = el * 1e3 / nq
    out["rust_index_equals_faiss_flat"] = rust_res == truth
    out["true_results"] = sum(len(s) for s in truth)
    del flat

    for nflip in (0, 1):
        m0 = rss_bytes()
        mh = faiss.IndexBinaryMultiHash(256, 16, 16)
        mh.nflip = nflip
        t = time.perf_counter()
        mh.add(db)
        build = time.perf_counter() - t
        mem = rss_bytes() - m0
        got, el = faiss_range(mh, queries, radius)
        found = sum(len(g & t_) for g, t_ in zip(got, truth))
        out[f"faiss_multihash_nflip{nflip}"] = {
            "ms_per_query": el * 1e3 / nq, "recall": found / max(1, out["true_results"]),
            "build_s": build, "rss_bytes": mem}
        del mh
    return out


def random_benchmark(work, n, nq, radius, rng):
    db = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    picks = rng.integers(0, n, size=nq)
    queries = db[picks].copy()
    for qi in range(nq):
        k = int(rng.integers(0, 32))  # 0..31 flipped bits: at least one true match per query
        for b in rng.choice(256, size=k, replace=False):
            queries[qi, b // 8] ^= np.uint8(1 << (b % 8))
    return index_comparison(work, db, queries, radius, "random")


def synthetic_image(rng, size=256):
    """Photo-like: smooth random colour field plus random shapes."""
    small = rng.integers(0, 256, size=(int(rng.integers(3, 10)),) * 2 + (3,), dtype=np.uint8)
    im = Image.fromarray(small, "RGB").resize((size, size), Image.BICUBIC)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(2, 8))):
        x0, y0 = (int(v) for v in rng.integers(0, size, 2))
        x1, y1 = x0 + int(rng.integers(10, size // 2)), y0 + int(rng.integers(10, size // 2))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=color)
    return im


def variants(im, rng):
    """Typical re-uploads: scale, recompress, crop, brightness, blur, small rotation, watermark."""
    import io
    out = [im, im.resize((im.width // 2, im.height // 2))]
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=30)
    out.append(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    c = int(im.width * 0.08)
    out.append(im.crop((c, c, im.width - c, im.height - c)))
    out.append(ImageEnhance.Brightness(im).enhance(1.25))
    out.append(im.filter(ImageFilter.GaussianBlur(2)))
    out.append(im.rotate(4, resample=Image.BILINEAR))
    wm = im.copy()
    ImageDraw.Draw(wm).text((10, im.height - 20), "jikimi " + str(int(rng.integers(1e6))), fill=(255, 255, 255))
    out.append(wm)
    return out


def realistic_benchmark(work, n_images, radius, rng):
    """Hashes of transformed variants of generated images: correlated bits, clustered hashes."""
    db, queries = [], []
    t = time.perf_counter()
    for _ in range(n_images):
        vs = variants(synthetic_image(rng), rng)
        hashes = [bits_to_bytes(pdqhash.compute(np.asarray(v, dtype=np.uint8))[0]) for v in vs]
        qi = int(rng.integers(1, len(hashes)))  # one transformed variant becomes a query
        queries.append(hashes.pop(qi))
        db.extend(hashes)
    hashing_s = time.perf_counter() - t
    db = np.stack(db)
    queries = np.stack(queries)[: min(1000, len(queries))]
    out = index_comparison(work, db, queries, radius, "realistic")
    out["images"] = n_images
    out["pdqhash_hashing_s"] = hashing_s
    # Bit balance: uniform hashes have every bit set half the time.
    bits = np.unpackbits(db, axis=1).mean(axis=0)
    out["bit_mean_min_max"] = [float(bits.min()), float(bits.max())]
    return out


def throughput(work, n_jpegs, rng):
    """Decode + hash of ~1-megapixel JPEGs: jikimi (Rust; JPEG through libjpeg-turbo) vs pdqhash (Pillow + C++)."""
    d = work / "jpegs"
    d.mkdir()
    for i in range(n_jpegs):
        im = synthetic_image(rng, 1024)
        arr = np.asarray(im, dtype=np.float64) + rng.normal(0, 8, (1024, 1024, 3))
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(d / f"{i:04d}.jpg", quality=90)
    files = sorted(d.iterdir())
    blobs = [f.read_bytes() for f in files]
    import io
    t = time.perf_counter()
    ref = {}
    for f, b in zip(files, blobs):
        rgb = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.uint8)
        bits, q = pdqhash.compute(rgb)
        ref[f.name] = "%064x" % int("".join(str(int(x)) for x in bits), 2)
    py_s = time.perf_counter() - t
    rust = json.loads(jikimi_bench("hash", str(d)))
    ours = {pathlib.Path(r["file"]).name: r["hash"] for r in json.loads(jikimi("hash", "--json", str(d)))}
    dists = [bin(int(ref[k], 16) ^ int(ours[k], 16)).count("1") for k in ref]
    return {"jpegs": n_jpegs, "size": "1024x1024", "pdqhash_images_per_s": n_jpegs / py_s,
            "jikimi": rust,
            "hamming_vs_pdqhash_max": max(dists), "hamming_vs_pdqhash_mean": float(np.mean(dists)),
            "identical_hashes": sum(1 for x in dists if x == 0)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--jpegs", type=int, default=100)
    ap.add_argument("--n-memory", type=int, default=10_000_000)
    ap.add_argument("--skip", nargs="*", default=[], help="random realistic throughput memory")
    args = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} missing: run `cargo build --release -p jikimi` first")
    rng = np.random.default_rng(2024)
    report = {"faiss": faiss.__version__, "pdqhash": pdqhash.__version__ if hasattr(pdqhash, "__version__") else "0.2.8"}
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        if "random" not in args.skip:
            report["random"] = random_benchmark(work, args.n, args.queries, args.radius, rng)
            print(json.dumps(report["random"], indent=1), flush=True)
        if "realistic" not in args.skip:
            report["realistic"] = realistic_benchmark(work, args.images, args.radius, rng)
            print(json.dumps(report["realistic"], indent=1), flush=True)
        if "throughput" not in args.skip:
            report["throughput"] = throughput(work, args.jpegs, rng)
            print(json.dumps(report["throughput"], indent=1), flush=True)
        if "memory" not in args.skip:
            report["memory"] = json.loads(jikimi_bench("memory", "--n", str(args.n_memory),
                                                 "--file", str(work / "mem.mih")))
            print(json.dumps(report["memory"], indent=1), flush=True)
    print("SUMMARY " + json.dumps(report))


if __name__ == "__main__":
    main()
