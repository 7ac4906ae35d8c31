#!/usr/bin/env python3
"""Write `tests/data/tiny.osm.pbf` (test fixture and fuzzing seed): five nodes, a two-way street, a one-way
street with maxspeed, a roundabout and a footway (so the seed reaches every import branch).

Needs pyosmium: `python3 -m venv ~/.cache/jikimi-venvs/roads && ~/.cache/jikimi-venvs/roads/bin/pip install osmium`.
Run from crates/roads/fuzz: `~/.cache/jikimi-venvs/roads/bin/python make_seed.py`.
"""
import os

import osmium

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "tiny.osm.pbf")
if os.path.exists(OUT):
    os.remove(OUT)
w = osmium.SimpleWriter(OUT)
pts = [(1, 60.170, 24.940), (2, 60.171, 24.940), (3, 60.171, 24.942), (4, 60.170, 24.942), (5, 60.1705, 24.941)]
for nid, lat, lon in pts:
    w.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags={}))
ways = [
    (10, [1, 2, 3], {"highway": "residential"}),
    (11, [3, 4], {"highway": "primary", "oneway": "-1", "maxspeed": "40"}),
    (12, [4, 5, 1, 4], {"highway": "tertiary", "junction": "roundabout"}),
    (13, [2, 5], {"highway": "footway"}),
]
for wid, refs, tags in ways:
    w.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
w.close()
print(OUT, os.path.getsize(OUT))
