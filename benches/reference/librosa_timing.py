#!/usr/bin/env python3
"""The work of examples/extract_timing.rs done with librosa: load + melspectrogram + power_to_db
for every shared GTZAN track, with a pool of 1 and 2 worker processes.

    /work/venv/bin/python benches/reference/librosa_timing.py [--dir ../shared/data/gtzan]

The wall time covers the pool's start-up and the work, not the parent's imports.
"""
import argparse
import glob
import multiprocessing as mp
import os
import time

import librosa
import numpy as np


def extract(path):
    y, sr = librosa.load(path, sr=22050, mono=True)
    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=512, n_mels=80, power=2.0)
    return librosa.power_to_db(S, ref=np.max, top_db=80.0).shape[1]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=os.path.join(here, "../../../shared/data/gtzan"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.dir, "*", "*.wav")))
    if not files:
        raise SystemExit(f"no .wav files under {args.dir}")
    extract(files[0])  # warm librosa's lazy imports and caches in the parent (forked workers inherit)
    for workers in args.workers:
        start = time.perf_counter()
        with mp.get_context("fork").Pool(workers) as pool:
            frames = pool.map(extract, files, chunksize=1)
        wall = time.perf_counter() - start
        print(f"{len(files)} tracks, {sum(frames)} frames, {workers} worker(s): {wall:.3f} s wall "
              f"({1000 * wall / len(files):.1f} ms/track)")


if __name__ == "__main__":
    main()
