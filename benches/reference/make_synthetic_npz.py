"""Synthetic stand-in for the coursework data set, for timing when the real data is absent.

Same size and layout as the coursework: 12,000 log-mel-like segments of 80 x 80 in dB
([-80, 0]), 9,600 of them for training. Each class has its own smooth spectral envelope
and a rhythmic modulation at its own rate, buried in per-pixel noise and a random gain per
segment, so the models have something to learn (accuracy climbs above chance) but the
numbers mean nothing beyond timing.

    python make_synthetic_npz.py --out synthetic.npz --n 12000 --train 9600 --seed 0
"""

import argparse

import numpy as np

import refdata


def class_patterns(rng, n_classes):
    mel = np.arange(80)[None, :]
    time = np.arange(80)[:, None]
    patterns = []
    for _ in range(n_classes):
        centres = rng.uniform(0, 80, 3)
        widths = rng.uniform(4, 16, 3)
        heights = rng.uniform(-12, 12, 3)
        envelope = sum(h * np.exp(-0.5 * ((mel - c) / w) ** 2) for c, w, h in zip(centres, widths, heights))
        rate = rng.uniform(2, 10)  # beats per segment
        band = (mel > rng.uniform(0, 40)) & (mel < rng.uniform(40, 80))
        pulse = 5.0 * np.sin(2 * np.pi * rate * time / 80) * band
        patterns.append((envelope + pulse).astype(np.float32))
    return np.stack(patterns)  # (classes, time, mel)


def make(n, n_train, n_classes, seed):
    rng = np.random.default_rng(seed)
    patterns = class_patterns(rng, n_classes)
    y = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    X = np.empty((n, 80, 80, 1), np.float32)
    for start in range(0, n, 1000):
        stop = min(start + 1000, n)
        rows = stop - start
        noise = rng.normal(0.0, 8.0, (rows, 80, 80)).astype(np.float32)
        gain = rng.normal(0.0, 5.0, (rows, 1, 1)).astype(np.float32)
        shift = rng.integers(0, 80, rows)  # random phase: patterns rolled in time
        base = np.stack([np.roll(patterns[c], s, axis=0) for c, s in zip(y[start:stop], shift)])
        X[start:stop, ..., 0] = np.clip(-45.0 + base + gain + noise, -80.0, 0.0)
    train_idx, val_idx = refdata.random_split(n, n_train, seed)
    genres = [f"synthetic-{c}" for c in range(n_classes)]
    return X, y, train_idx, val_idx, genres


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=12000)
    p.add_argument("--train", type=int, default=9600)
    p.add_argument("--genres", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.n < 2 or a.genres < 2:
        raise SystemExit("--n and --genres must be at least 2")
    X, y, tr, va, genres = make(a.n, a.train, a.genres, a.seed)
    refdata.save_split(a.out, X, y, tr, va, genres)
    print(f"wrote {a.out}: X {X.shape}, {tr.size} train / {va.size} val, {a.genres} classes")


if __name__ == "__main__":
    main()
