"""Side-by-side benchmark: melgrad vs PyTorch vs Keras on the four coursework models.

    python benches/reference/compare.py --quick                 # speed table, 3 epochs
    python benches/reference/compare.py                         # speed + accuracy tables
    python benches/reference/compare.py --frameworks torch,keras --quick

Every (framework, model, threads, seed) run is its own subprocess, one at a time, so each
peak RSS belongs to one run and runs never compete for the cores. Every RESULT line goes to
<out>/results.jsonl as it arrives; the tables go to stdout and <out>/tables.md.

Table 1 (speed), per thread count: median s/epoch over the epochs after a warm-up epoch,
seconds to predict the validation set (median of 3), peak RSS, and ratios to the peers.
Data: by default a synthetic set of the coursework's size (12,000 segments, 9,600 train),
because time per epoch depends on the sizes only; `--speed-data real` uses the real split.
Table 2 (accuracy): final and best validation accuracy over --seeds, E epochs, on the real
split (melgrad's export of ../shared/data/gtzan when melgrad runs; else the librosa
reference features in ../shared/data/reference; synthetic only if neither exists).

melgrad's side is reached through the two command templates below (MELGRAD_EXPORT_CMD,
MELGRAD_TRAIN_CMD): adapt them there if its CLI changes.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import specs  # noqa: E402

FRAMEWORKS = ("melgrad", "torch", "keras")
LABELS = {"melgrad": "melgrad", "torch": "PyTorch", "keras": "Keras"}

# --- melgrad's CLI contract (adapt here) -----------------------------------------------
MELGRAD_EXPORT_CMD = [
    "{bin}", "export-npz", "--data", "{gtzan}", "--genres", "{genres}",
    "--split", "segment", "--seed", "{split_seed}", "--out", "{out}",
]  # fmt: skip
MELGRAD_TRAIN_CMD = [
    "{bin}", "bench-train", "--model", "{model}", "--data", "{data}", "--threads", "{threads}",
    "--epochs", "{epochs}", "--batch", "{batch}", "--seed", "{seed}",
]  # fmt: skip
MELGRAD_TIMING_ONLY_FLAG = "--timing-only"
# Our model name -> melgrad's --model value, if they differ.
MELGRAD_MODEL_NAMES = {m: ("bn-cnn" if m == "improved" else m) for m in specs.MODELS}
# -----------------------------------------------------------------------------------------


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma list of melgrad,torch,keras")
    p.add_argument("--models", default=",".join(specs.MODELS))
    p.add_argument("--threads", default="1,2", help="thread counts for the speed table")
    p.add_argument("--quick", action="store_true", help="speed table only, 3 epochs (1 warm-up + 2 timed)")
    p.add_argument(
        "--rounds", type=int, default=1,
        help="speed runs per (model, framework, threads), interleaved; the table keeps each one's fastest",
    )  # fmt: skip
    p.add_argument("--speed-epochs", type=int, help="epochs per speed run (default: 3 quick, 6 full)")
    p.add_argument("--acc-epochs", type=int, default=50)
    p.add_argument("--seeds", default="0,1,2", help="training seeds for the accuracy table")
    p.add_argument("--acc-threads", type=int, help="threads for accuracy runs (default: the largest of --threads)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--speed-data", default="synthetic", help="synthetic | real | path to a split npz")
    p.add_argument("--real-data", help="split npz to use as the real data (skips the export)")
    p.add_argument("--real-source", choices=["auto", "melgrad", "librosa"], default="auto")
    p.add_argument("--genres", type=int, default=8)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"), help="the shared folder")
    p.add_argument("--melgrad", help="melgrad binary (default $CARGO_TARGET_DIR or target/release/melgrad)")
    p.add_argument("--python", default=sys.executable, help="interpreter with torch and keras")
    p.add_argument("--out", help="output dir (default benches/reference/results/<timestamp>)")
    p.add_argument("--cache", default=os.path.join(HERE, ".cache"), help="where generated npz files are kept")
    p.add_argument("--omp-wait-policy", choices=["ACTIVE", "PASSIVE"], help="passed to train_ref.py (PyTorch)")
    p.add_argument("--timeout", type=float, help="seconds before a single run is killed")
    p.add_argument("--from-jsonl", help="only re-render the tables from an existing results.jsonl")
    a = p.parse_args()
    a.frameworks = [f for f in a.frameworks.split(",") if f]
    bad = set(a.frameworks) - set(FRAMEWORKS)
    if bad:
        p.error(f"unknown frameworks {sorted(bad)}")
    a.models = [specs.canonical(m) for m in a.models.split(",") if m]
    a.threads = [int(t) for t in a.threads.split(",")]
    a.seeds = [int(s) for s in a.seeds.split(",")]
    if a.speed_epochs is None:
        a.speed_epochs = 3 if a.quick else 6
    if a.quick:
        a.skip_accuracy = True
    if a.acc_threads is None:
        a.acc_threads = max(a.threads)
    if a.melgrad is None:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        a.melgrad = os.path.join(target, "release", "melgrad")
    return a


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fmt_cmd(template, **values):
    return [part.format(**values) for part in template]


class Runner:
    """Runs commands one at a time, logs their output, collects RESULT records."""

    def __init__(self, a, out_dir):
        self.a = a
        self.out_dir = out_dir
        self.logs = os.path.join(out_dir, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.jsonl = os.path.join(out_dir, "results.jsonl")
        self.records = []

    def check(self, cmd, what):
        log(f"$ {' '.join(cmd)}")
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            raise SystemExit(f"{what} failed: {' '.join(cmd)}")

    def train(self, framework, model, data, threads, epochs, seed, timing_only, table):
        a = self.a
        if framework == "melgrad":
            cmd = fmt_cmd(
                MELGRAD_TRAIN_CMD, bin=a.melgrad, model=MELGRAD_MODEL_NAMES[model], data=data,
                threads=threads, epochs=epochs, batch=a.batch, seed=seed,
            )  # fmt: skip
            if timing_only:
                cmd.append(MELGRAD_TIMING_ONLY_FLAG)
        else:
            cmd = [
                a.python, os.path.join(HERE, "train_ref.py"), "--framework", framework, "--model", model,
                "--data", data, "--threads", str(threads), "--epochs", str(epochs), "--batch", str(a.batch),
                "--seed", str(seed), "--lr", repr(a.lr),
            ]  # fmt: skip
            if timing_only:
                cmd.append("--timing-only")
            if a.omp_wait_policy:
                cmd += ["--omp-wait-policy", a.omp_wait_policy]
        name = f"{table}_{framework}_{model}_t{threads}_s{seed}"
        log(f"[{len(self.records) + 1}] {name}: {' '.join(cmd)}")
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=a.timeout)
            stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as e:
            stdout, stderr, code = e.stdout or "", (e.stderr or "") + "\nTIMEOUT", -1
            stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
            stderr = stderr.decode() if isinstance(stderr, bytes) else stderr
        with open(os.path.join(self.logs, name + ".log"), "w") as f:
            f.write(f"$ {' '.join(cmd)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- exit {code}\n")
        lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
        record = dict(framework=framework, model=model, threads=threads, seed=seed)
        if code == 0 and lines:
            try:
                record = json.loads(lines[-1][len("RESULT ") :])
                # A framework may name the model its own way (melgrad: bn-cnn): keep ours.
                record["framework_model"], record["model"] = record.get("model"), model
            except json.JSONDecodeError as e:
                record["error"] = f"bad RESULT json: {e}"
        else:
            tail = " | ".join(stderr.strip().splitlines()[-3:])
            record["error"] = f"exit {code}, no RESULT line" if code == 0 else f"exit {code}: {tail}"
        record.update(table=table, loadavg_1m_before=load_before, loadavg_1m_after=os.getloadavg()[0])
        record["run_wall_s"] = time.perf_counter() - t0
        if "error" in record:
            log(f"    FAILED: {record['error']} (log: {name}.log)")
        else:
            log(
                f"    {record.get('s_per_epoch', float('nan')):.3f} s/epoch, "
                f"{record.get('peak_rss_mib', float('nan')):.0f} MiB, "
                f"final val acc {record.get('final_val_acc', float('nan')):.3f}"
            )
        self.records.append(record)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(record) + "\n")
        return record


# --- data -------------------------------------------------------------------------------


def ensure_melgrad(a, runner):
    if os.path.exists(a.melgrad):
        return
    if shutil.which("cargo") is None:
        raise SystemExit(f"{a.melgrad} not found and cargo is not installed")
    runner.check(["cargo", "build", "--release"], "building melgrad")
    if not os.path.exists(a.melgrad):
        raise SystemExit(f"cargo build succeeded but {a.melgrad} does not exist; pass --melgrad")


def synthetic_data(a, runner):
    path = os.path.join(a.cache, f"synthetic_n12000_train9600_g{a.genres}_s0.npz")
    if not os.path.exists(path):
        runner.check(
            [a.python, os.path.join(HERE, "make_synthetic_npz.py"), "--out", path, "--n", "12000",
             "--train", "9600", "--genres", str(a.genres), "--seed", "0"],
            "making the synthetic npz",
        )  # fmt: skip
    return path, "synthetic (12,000 segments, 9,600 train)"


def real_data(a, runner):
    """(path, description) of the real split, or (None, reason)."""
    if a.real_data:
        return a.real_data, f"real: {a.real_data}"
    gtzan = os.path.join(a.shared, "data", "gtzan")
    librosa_npz = os.path.join(a.shared, "data", "reference", "librosa_logmel.npz")
    source = a.real_source
    if source == "auto":
        source = "melgrad" if "melgrad" in a.frameworks and os.path.isdir(gtzan) else "librosa"
    if source == "melgrad":
        path = os.path.join(a.cache, f"gtzan_melgrad_g{a.genres}_segment_s{a.split_seed}.npz")
        if not os.path.exists(path):
            ensure_melgrad(a, runner)
            cmd = fmt_cmd(
                MELGRAD_EXPORT_CMD, bin=a.melgrad, gtzan=gtzan, genres=a.genres, split_seed=a.split_seed, out=path
            )
            runner.check(cmd, "melgrad export-npz")
        return path, f"real GTZAN, melgrad features, {a.genres} genres, segment split seed {a.split_seed}"
    if os.path.exists(librosa_npz):
        path = os.path.join(a.cache, f"gtzan_librosa_g{a.genres}_segment_s{a.split_seed}.npz")
        if not os.path.exists(path):
            runner.check(
                [a.python, os.path.join(HERE, "make_reference_npz.py"), "--src", librosa_npz, "--out", path,
                 "--genres", str(a.genres), "--seed", str(a.split_seed)],
                "making the reference npz",
            )  # fmt: skip
        return path, f"real GTZAN, librosa features, {a.genres} genres, segment split seed {a.split_seed}"
    return None, "no shared data found"


# --- tables -----------------------------------------------------------------------------


def _f(value, digits=2):
    return "—" if value is None else f"{value:.{digits}f}"


def _count(n):
    return "—" if n is None else f"{n:,}"


def _ratio(x, y):
    return None if x is None or not y else x / y


def speed_tables(records, frameworks, models, threads):
    ok = [r for r in records if r.get("table") == "speed" and "error" not in r]
    failed = [r for r in records if r.get("table") == "speed" and "error" in r]
    lines = []
    for t in threads:
        lines += [
            f"### Speed, {t} thread{'s' if t > 1 else ''}",
            "",
            "| model | framework | s/epoch | × best peer | predict val (s) | peak RSS (MiB) | RSS × PyTorch "
            "| training RSS (MiB) | params | s/epoch, every round | × best peer, every round (median) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for m in models:
            # With several rounds, each framework's fastest round stands for it.
            row, rounds = {}, {}
            for r in ok:
                if r["model"] == m and r["threads"] == t:
                    fw = r["framework"]
                    rounds.setdefault(fw, []).append(r["s_per_epoch"])
                    if fw not in row or r["s_per_epoch"] < row[fw]["s_per_epoch"]:
                        row[fw] = r
            torch_rss = row["torch"]["peak_rss_mib"] if "torch" in row else None
            for fw in frameworks:
                r = row.get(fw)
                if r is None:
                    status = "failed" if any(x["framework"] == fw and x["model"] == m and x["threads"] == t for x in failed) else "—"
                    lines.append(f"| {m} | {LABELS[fw]} | {status} | | | | | | | | |")
                    continue
                peers = [row[p]["s_per_epoch"] for p in row if p != fw]
                vs_peer = _ratio(r["s_per_epoch"], min(peers)) if peers else None
                base = r.get("rss_baseline_mib")
                working = None if base is None else r["peak_rss_mib"] - base
                lines.append(
                    f"| {m} | {LABELS[fw]} | {_f(r['s_per_epoch'], 3)} | {_f(vs_peer)} | {_f(r['predict_s'], 3)} | "
                    f"{_f(r['peak_rss_mib'], 0)} | {_f(_ratio(r['peak_rss_mib'], torch_rss))} | {_f(working, 0)} | "
                    f"{_count(r.get('params'))} | {' / '.join(f'{x:.3f}' for x in rounds[fw])} | "
                    f"{_paired(fw, rounds)} |"
                )
        lines.append("")
    return lines


def _paired(fw, rounds):
    """Round i's time over the fastest peer's time in the same round i, for every round,
    and their median: a slow or fast spell of the machine hits both sides of a ratio, so
    this is steadier than comparing each side's fastest round."""
    n = len(rounds[fw])
    peers = [p for p in rounds if p != fw]
    if n < 2 or not peers or any(len(rounds[p]) != n for p in peers):
        return ""
    ratios = [rounds[fw][i] / min(rounds[p][i] for p in peers) for i in range(n)]
    return f"{' / '.join(f'{x:.2f}' for x in ratios)} ({statistics.median(ratios):.2f})"


def _spread(values):
    if not values:
        return "—"
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.3f} ± {std:.3f} ({min(values):.3f}–{max(values):.3f})"


def accuracy_table(records, frameworks, models):
    ok = [r for r in records if r.get("table") == "accuracy" and "error" not in r]
    lines = [
        "### Accuracy (validation)",
        "",
        "mean ± sample std over the seeds, (min–max) in brackets",
        "",
        "| model | framework | seeds | epochs | final val acc | best val acc | s/epoch |",
        "|---|---|---:|---:|---|---|---:|",
    ]
    for m in models:
        for fw in frameworks:
            rs = [r for r in ok if r["model"] == m and r["framework"] == fw]
            if not rs:
                lines.append(f"| {m} | {LABELS[fw]} | 0 | | | | |")
                continue
            lines.append(
                f"| {m} | {LABELS[fw]} | {len(rs)} | {rs[0]['epochs']} | {_spread([r['final_val_acc'] for r in rs])} | "
                f"{_spread([r['best_val_acc'] for r in rs])} | {_f(statistics.median(r['s_per_epoch'] for r in rs), 3)} |"
            )
    lines.append("")
    return lines


def describe_runs(records):
    ok = [r for r in records if "error" not in r]
    out = []
    if ok:
        cpu = next((x["cpu"] for x in ok if x.get("cpu")), "?")
        out.append(f"- CPU: {cpu}")
        versions = {}
        for x in ok:
            versions.update(x.get("versions", {}))
        out.append("- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
        for table in ("speed", "accuracy"):
            rs = [x for x in ok if x.get("table") == table]
            if rs:
                loads = [x.get("loadavg_1m_before", 0) for x in rs] + [x.get("loadavg_1m_after", 0) for x in rs]
                out.append(
                    f"- {table}: {rs[0]['n_train']} train / {rs[0]['n_val']} val segments, "
                    f"{rs[0]['n_classes']} classes, {rs[0]['epochs']} epochs, batch {rs[0]['batch']}; "
                    f"1-min load average during the runs {min(loads):.1f}–{max(loads):.1f}"
                )
    bad = [r for r in records if "error" in r]
    for r in bad:
        out.append(f"- FAILED {r.get('table')} {r['framework']} {r['model']} t{r['threads']} s{r['seed']}: {r['error']}")
    return out


def render(records, frameworks, models, threads, notes):
    lines = ["# melgrad vs PyTorch vs Keras", ""] + [f"- {n}" for n in notes] + describe_runs(records) + [""]
    lines += [
        "s/epoch: median over the epochs after the first (warm-up); with several rounds (the",
        "frameworks interleaved), the fastest round, every round listed in the last column.",
        "× best peer: this framework's s/epoch divided by the fastest of the others (below 1 =",
        "faster than every peer); every round: the same ratio within each round, and its median",
        "(steadier on a machine whose speed drifts: a slow spell slows both sides of a round);",
        "predict val: median of 3 inference passes over the validation set; peak RSS: ru_maxrss",
        "of the run's process (includes the data: 4 × 80 × 80 bytes per segment); training RSS:",
        "peak minus the RSS once the runtime is imported and the data loaded (the model's and",
        "training's own memory).",
        "",
    ]
    if any(r.get("table") == "speed" for r in records):
        lines += speed_tables(records, frameworks, models, threads)
    if any(r.get("table") == "accuracy" for r in records):
        lines += accuracy_table(records, frameworks, models)
    return "\n".join(lines)


def main():
    a = parse_args()
    if a.from_jsonl:
        with open(a.from_jsonl) as f:
            records = [json.loads(line) for line in f if line.strip()]
        for r in records:  # files written before models were renamed on reading
            r["model"] = specs.canonical(r["model"])
        print(render(records, a.frameworks, a.models, a.threads, []))
        return
    out_dir = a.out or os.path.join(HERE, "results", dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(a.cache, exist_ok=True)
    runner = Runner(a, out_dir)
    if "melgrad" in a.frameworks:
        ensure_melgrad(a, runner)

    notes = []
    if a.omp_wait_policy:
        notes.append(f"PyTorch runs with OMP_WAIT_POLICY={a.omp_wait_policy}")
    real_path, real_desc = real_data(a, runner) if (not a.skip_accuracy or a.speed_data == "real") else (None, "")
    if not a.skip_speed:
        if a.speed_data == "synthetic":
            speed_path, speed_desc = synthetic_data(a, runner)
        elif a.speed_data == "real":
            if real_path is None:
                raise SystemExit(f"--speed-data real: {real_desc}")
            speed_path, speed_desc = real_path, real_desc
        else:
            speed_path, speed_desc = a.speed_data, f"given: {a.speed_data}"
        notes.append(f"speed data: {speed_desc}")
        # Rounds outermost, so a slow spell of a shared machine hits every framework alike.
        for _ in range(a.rounds):
            for t in a.threads:
                for m in a.models:
                    for fw in a.frameworks:
                        runner.train(fw, m, speed_path, t, a.speed_epochs, a.seeds[0], True, "speed")
    if not a.skip_accuracy:
        if real_path is None:
            real_path, real_desc = synthetic_data(a, runner)
            real_desc += " (NO REAL DATA FOUND)"
        notes.append(f"accuracy data: {real_desc}; {a.acc_threads} thread(s)")
        for m in a.models:
            for fw in a.frameworks:
                for s in a.seeds:
                    runner.train(fw, m, real_path, a.acc_threads, a.acc_epochs, s, False, "accuracy")

    text = render(runner.records, a.frameworks, a.models, a.threads, notes)
    with open(os.path.join(out_dir, "tables.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    log(f"results: {runner.jsonl}\ntables: {os.path.join(out_dir, 'tables.md')}")


if __name__ == "__main__":
    main()
