"""Split npz from the shared librosa features (../shared/data/reference/librosa_logmel.npz).

Real GTZAN log-mels computed by librosa (15 segments of 80 frames per track, 100 tracks).
Keeps the first `--genres` genres (alphabetical: y < n) and splits the segments 80/20 at
random with `--seed` (a segment split, like `melgrad export-npz --split segment`: segments of
one track can land on both sides). For developing the references before melgrad's own
exporter exists, and for comparing the frameworks on identical inputs.

    python make_reference_npz.py --out ref8.npz --genres 8 --seed 0
"""

import argparse
import os

import numpy as np

import refdata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, "..", "..", "..", "shared", "data", "reference", "librosa_logmel.npz")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", default=DEFAULT_SRC)
    p.add_argument("--out", required=True)
    p.add_argument("--genres", type=int, default=8)
    p.add_argument("--train-fraction", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    with np.load(a.src, allow_pickle=False) as d:
        keep = d["y"] < a.genres
        X, y = d["X"][keep], d["y"][keep]
        genres = [str(g) for g in d["genres"][: a.genres]]
        tracks = d["track"][keep]
    n_train = int(round(a.train_fraction * len(y)))
    tr, va = refdata.random_split(len(y), n_train, a.seed)
    refdata.save_split(a.out, X, y, tr, va, genres, track=tracks)
    print(f"wrote {a.out}: X {X.shape}, {tr.size} train / {va.size} val, genres {genres}")


if __name__ == "__main__":
    main()
