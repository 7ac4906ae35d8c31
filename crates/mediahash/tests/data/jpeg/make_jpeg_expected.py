#!/usr/bin/env python3
"""Generate the JPEG test images and jpeg_expected.json with the PDQ reference.

Reference: the same as shared/reference/pdq (see its README): `pdqhash` 0.2.8 (Meta's PDQ C++
through Cython) over Pillow's `Image.open(f).convert("RGB")`. Pillow's wheel bundles
libjpeg-turbo (Pillow 13.0.0: libjpeg-turbo 3.2.0) and decodes with its defaults: ISLOW DCT,
fancy upsampling, no EXIF rotation; 4-component JPEGs are read as inverted (Adobe) CMYK and
converted with Pillow's cmyk2rgb.

The JPEGs are made from the reference PNGs in shared/reference/pdq (crops keep them small), at
several qualities, chroma subsamplings (4:4:4, 4:2:2, 4:2:0), baseline and progressive, plus
greyscale, CMYK, an EXIF-rotated one and a tiny one.

Usage (the venv is what .ci/setup-jpeg.sh makes):
    ~/.cache/jikimi-venvs/pdq-jpeg/bin/python make_jpeg_expected.py          # regenerate JPEGs + JSON
    ~/.cache/jikimi-venvs/pdq-jpeg/bin/python make_jpeg_expected.py --check  # re-hash, compare to JSON
    ~/.cache/jikimi-venvs/pdq-jpeg/bin/python make_jpeg_expected.py --emit   # re-hash, print JSON

`--emit` is what the Rust test runs at test time, so the expected values are computed by the
reference rather than only read from the committed JSON. Set JIKIMI_SHARED to find shared/.
"""
import hashlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pdqhash
import PIL
from PIL import Image, features

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[4]
SHARED = Path(os.environ.get("JIKIMI_SHARED", ROOT.parent / "shared"))
PNG_DIR = SHARED / "reference" / "pdq"
JSON_PATH = HERE / "jpeg_expected.json"
DIHEDRAL_NAMES = [
    "original", "rotate90", "rotate180", "rotate270",
    "flipX", "flipY", "flipPlus1", "flipMinus1",
]
PINNED = {"pillow": "13.0.0", "pdqhash": "0.2.8"}

# (stem, source png, crop box or None)
RGB_SOURCES = [
    ("smooth_noisy", "smooth_noisy_rgb_512x512.png", (31, 17, 288, 216)),  # 257 x 199: odd edges
    ("grad_diag", "grad_diag_noisy_rgb_250x200.png", None),
    ("checker", "checker_rgb_333x517.png", (0, 0, 203, 261)),
]
QUALITIES = [50, 75, 95]
SUBSAMPLINGS = ["4:4:4", "4:2:2", "4:2:0"]


def bits_to_hex(bits) -> str:
    return "%064x" % int("".join(str(int(b)) for b in bits), 2)


def load_png(name: str, box=None) -> Image.Image:
    with Image.open(PNG_DIR / name) as im:
        im.load()
        return im.crop(box) if box else im.copy()


def encode(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


def images() -> list:
    """(file name, JPEG bytes, description) for every test image, deterministic."""
    out = []
    for stem, png, box in RGB_SOURCES:
        im = load_png(png, box)
        for q in QUALITIES:
            for ss in SUBSAMPLINGS:
                for prog in (False, True):
                    tag = ss.replace(":", "")
                    name = f"{stem}_q{q}_{tag}_{'prog' if prog else 'base'}.jpg"
                    out.append((name, encode(im, quality=q, subsampling=ss, progressive=prog),
                                {"quality_setting": q, "subsampling": ss, "progressive": prog}))
    big = load_png("smooth_rgb_1000x750.png")
    for prog in (False, True):
        name = f"smooth_1000x750_q75_420_{'prog' if prog else 'base'}.jpg"
        out.append((name, encode(big, quality=75, subsampling="4:2:0", progressive=prog),
                    {"quality_setting": 75, "subsampling": "4:2:0", "progressive": prog}))
    for png, stem in [("rings_gray_301x257.png", "rings_gray"), ("noise_gray_250x200.png", "noise_gray")]:
        im = load_png(png)
        for q in QUALITIES:
            for prog in (False, True):
                name = f"{stem}_q{q}_{'prog' if prog else 'base'}.jpg"
                out.append((name, encode(im, quality=q, progressive=prog),
                            {"quality_setting": q, "subsampling": "grey", "progressive": prog}))
    cmyk = load_png("grad_diag_noisy_rgb_250x200.png").convert("CMYK")
    for prog in (False, True):
        name = f"grad_diag_cmyk_q90_{'prog' if prog else 'base'}.jpg"
        out.append((name, encode(cmyk, quality=90, progressive=prog),
                    {"quality_setting": 90, "subsampling": "cmyk", "progressive": prog}))
    # EXIF orientation 6 (rotate 90 CW to display): the reference does not apply it.
    exif = Image.Exif()
    exif[0x0112] = 6
    im = load_png("smooth_noisy_rgb_512x512.png", (0, 0, 240, 160))
    out.append(("smooth_noisy_exif6_q85_420.jpg", encode(im, quality=85, exif=exif.tobytes()),
                {"quality_setting": 85, "subsampling": "4:2:0", "progressive": False, "exif_orientation": 6}))
    # Optimised Huffman tables and restart markers: other code paths in the decoder.
    out.append(("grad_diag_q80_420_optimize_restart.jpg",
                encode(load_png("grad_diag_noisy_rgb_250x200.png"), quality=80, optimize=True,
                       restart_marker_blocks=3),
                {"quality_setting": 80, "subsampling": "4:2:0", "progressive": False}))
    # Damaged files that libjpeg decodes with a warning and Pillow accepts: junk before the end marker, and
    # one byte of entropy-coded data changed (a bad Huffman code; the decoder conceals the damage).
    clean = encode(load_png("grad_diag_noisy_rgb_250x200.png"), quality=75, subsampling="4:2:0")
    out.append(("grad_diag_q75_420_junk_before_eoi.jpg", clean[:-2] + b"\x01\x02\x03\x04" + clean[-2:],
                {"quality_setting": 75, "subsampling": "4:2:0", "progressive": False, "damaged": True}))
    scan = clean.rindex(b"\xff\xda")
    at = scan + (len(clean) - scan) // 2
    bad = bytearray(clean)
    bad[at] = 0x00 if bad[at] == 0xFF or bad[at - 1] == 0xFF else bad[at] ^ 0x5A
    out.append(("grad_diag_q75_420_bad_huffman.jpg", bytes(bad),
                {"quality_setting": 75, "subsampling": "4:2:0", "progressive": False, "damaged": True}))
    # Warnings while reading the header, which Pillow ignores too: junk before the frame header, and an
    # unknown JFIF major version.
    sof = clean.index(b"\xff\xc0")
    out.append(("grad_diag_q75_420_junk_before_sof.jpg", clean[:sof] + b"\x01\x02\x03" + clean[sof:],
                {"quality_setting": 75, "subsampling": "4:2:0", "progressive": False, "damaged": True}))
    jfif = bytearray(clean)
    jfif[clean.index(b"JFIF\x00") + 5] = 2
    out.append(("grad_diag_q75_420_jfif2.jpg", bytes(jfif),
                {"quality_setting": 75, "subsampling": "4:2:0", "progressive": False, "damaged": True}))
    # Below and at PDQ's minimum side of 5 pixels.
    for png in ("tiny_rgb_4x9.png", "tiny_rgb_5x7.png"):
        name = png.replace(".png", "_q75.jpg")
        out.append((name, encode(load_png(png), quality=75),
                    {"quality_setting": 75, "subsampling": "4:2:0", "progressive": False}))
    return out


STABLE_REL_GAP = 1e-5
_SIGN_GROUPS = {
    "original": "none", "flipPlus1": "none",
    "rotate90": "j_even_neg", "flipY": "j_even_neg",
    "rotate270": "i_even_neg", "flipX": "i_even_neg",
    "rotate180": "ij_odd_neg", "flipMinus1": "ij_odd_neg",
}


def stable_flags(rgb: np.ndarray) -> dict:
    """As in shared/reference/pdq/make_pdq_expected.py: false where the median threshold is a
    near-tie (bits that depend on float rounding). Informative only: the Rust decoder must give the
    reference's pixels, so every hash must match whatever this says."""
    h, w, _ = rgb.shape
    if min(w, h) < 5:
        return {n: True for n in DIHEDRAL_NAMES}
    f, _ = pdqhash.compute_float(rgb)
    a = np.asarray(f, dtype=np.float64)[::-1].reshape(16, 16)
    i, j = np.mgrid[0:16, 0:16]
    signs = {"none": np.ones((16, 16)), "j_even_neg": np.where(j & 1, 1, -1),
             "i_even_neg": np.where(i & 1, 1, -1), "ij_odd_neg": np.where((i + j) & 1, -1, 1)}
    scale = max(float(np.abs(a).max()), 1.0)
    gaps = {}
    for k, sg in signs.items():
        v = np.sort((a * sg).ravel())
        gaps[k] = float(v[128] - v[127]) / scale
    return {n: gaps[g] >= STABLE_REL_GAP for n, g in _SIGN_GROUPS.items()}


def record(path: Path, meta: dict) -> dict:
    with Image.open(path) as im:
        mode, fmt = im.mode, im.format
        rgb = np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
    h, w, _ = rgb.shape
    bits, quality = pdqhash.compute(rgb)
    dih, dq = pdqhash.compute_dihedral(rgb)
    return {
        "file": path.name,
        "format": fmt,
        "mode": mode,
        **meta,
        "width": w,
        "height": h,
        "pixel_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
        "hash": bits_to_hex(bits),
        "quality": int(quality),
        "dihedral": {n: bits_to_hex(b) for n, b in zip(DIHEDRAL_NAMES, dih)},
        "dihedral_quality": int(dq),
        "stable": stable_flags(rgb),
    }


def versions() -> dict:
    return {
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
        "pdqhash": "0.2.8",
        "numpy": np.__version__,
    }


def document(records: list) -> dict:
    return {
        "reference": "pdqhash 0.2.8 over Pillow Image.open(f).convert('RGB'); see make_jpeg_expected.py",
        "versions": versions(),
        "images": records,
    }


def rehash() -> list:
    committed = json.loads(JSON_PATH.read_text())
    keys = ("quality_setting", "subsampling", "progressive", "exif_orientation", "damaged")
    return [record(HERE / r["file"], {k: r[k] for k in keys if k in r}) for r in committed["images"]]


def main() -> int:
    if PIL.__version__ != PINNED["pillow"]:
        print(f"warning: Pillow {PIL.__version__}, expected {PINNED['pillow']}", file=sys.stderr)
    if "--emit" in sys.argv:
        json.dump(document(rehash()), sys.stdout)
        return 0
    if "--check" in sys.argv:
        committed = json.loads(JSON_PATH.read_text())["images"]
        bad = [a["file"] for a, b in zip(committed, rehash()) if a != b]
        print(f"{len(committed) - len(bad)} of {len(committed)} records match", file=sys.stderr)
        for f in bad:
            print(f"MISMATCH {f}", file=sys.stderr)
        return 1 if bad else 0
    for old in HERE.glob("*.jpg"):
        old.unlink()
    records = []
    for name, data, meta in images():
        (HERE / name).write_bytes(data)
        records.append(record(HERE / name, meta))
    JSON_PATH.write_text(json.dumps(document(records), indent=1) + "\n")
    total = sum(len(d) for _, d, _ in images())
    print(f"wrote {len(records)} JPEGs ({total // 1024} KiB) and {JSON_PATH.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
