#!/usr/bin/env python3
"""Regenerates the PyTorch fixtures into a scratch folder and compares them
with the committed ones, number by number. Exits 77 (a skip for meson) when
torch is not installed, so the test suite never needs torch.

    python3 tools/check_fixtures.py [committed_dir]
"""
import json
import math
import os
import subprocess
import sys
import tempfile

try:
    import torch  # noqa: F401
except ImportError:
    print("check_fixtures.py: skipped, torch is not installed (pip install torch==2.13.0)")
    sys.exit(77)

here = os.path.dirname(os.path.abspath(__file__))
committed = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures")
REL, ABS = 1e-5, 1e-7


def compare(a, b, where, problems):
    if isinstance(a, dict):
        if set(a) != set(b):
            problems.append(f"{where}: keys differ: {sorted(set(a) ^ set(b))}")
            return
        for k in a:
            if k != "torch_version":
                compare(a[k], b[k], f"{where}.{k}", problems)
    elif isinstance(a, list):
        if len(a) != len(b):
            problems.append(f"{where}: {len(a)} values committed, {len(b)} regenerated")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            compare(x, y, f"{where}[{i}]", problems)
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        if not math.isclose(a, b, rel_tol=REL, abs_tol=ABS):
            problems.append(f"{where}: committed {a}, regenerated {b}")
    elif a != b:
        problems.append(f"{where}: committed {a!r}, regenerated {b!r}")


with tempfile.TemporaryDirectory() as scratch:
    subprocess.run([sys.executable, os.path.join(here, "make_fixtures.py"), scratch], check=True,
                   stdout=subprocess.DEVNULL)
    names = sorted(n for n in os.listdir(scratch) if n.endswith(".json"))
    problems = []
    for name in names:
        with open(os.path.join(committed, name)) as f:
            old = json.load(f)
        with open(os.path.join(scratch, name)) as f:
            new = json.load(f)
        compare(old, new, name, problems)
    for p in problems[:20]:
        print(p)
    print(f"check_fixtures.py: {len(names)} fixture files, {len(problems)} differences")
    sys.exit(1 if problems or not names else 0)
