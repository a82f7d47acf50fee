"""Train one reference model (PyTorch or Keras) on a melgrad split npz and report timings.

    python train_ref.py --framework torch --model cnn-lstm --data split.npz --threads 1 \
        --epochs 3 --batch 128 --seed 0 --lr 1e-3 [--timing-only]

Prints progress to stderr and ONE line `RESULT {json}` to stdout at the end; the keys are
listed in README.md (melgrad's `bench-train` prints the same line).

Measured:
- s_per_epoch: every training epoch is timed (forward, backward, update, metrics; no
  validation); the median over the epochs after the first (warm-up: graph tracing, buffer
  allocation) is reported. With one epoch only, that epoch.
- predict_s: after training, inference on the whole validation set in batches of --batch,
  three timed passes, median.
- peak_rss_mib: ru_maxrss of this process at the end (data + framework + training);
  rss_baseline_mib: ru_maxrss once the framework is imported and the data loaded, before the
  model exists, so peak - baseline is the training working set.
- per-epoch train loss/acc (mean over the epoch's batches, weighted by batch size, in train
  mode, like Keras' history) and validation loss/acc (eval mode; skipped with --timing-only).
"""

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--framework", required=True, choices=["torch", "keras"])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="split npz (X, y, train_idx, val_idx[, genres])")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--timing-only", action="store_true", help="skip the per-epoch validation pass")
    p.add_argument(
        "--tf-inter-op",
        type=int,
        default=1,
        help="TF inter-op threads (default 1: ops run one at a time, each on --threads intra-op "
        "threads, as in PyTorch eager with 1 inter-op thread and in melgrad)",
    )
    p.add_argument(
        "--omp-wait-policy",
        choices=["ACTIVE", "PASSIVE"],
        help="set OMP_WAIT_POLICY (PyTorch's libgomp); default: leave the runtime's default. "
        "PASSIVE avoids spinning threads starving each other on an oversubscribed machine",
    )
    a = p.parse_args(argv)
    if a.threads < 1 or a.epochs < 1 or a.batch < 1 or a.tf_inter_op < 1:
        p.error("--threads, --epochs, --batch and --tf-inter-op must be positive")
    return a


def pin_threads_env(threads: int, inter_op: int, wait_policy) -> None:
    """Must run before numpy / torch / tensorflow are imported: their pools read these once."""
    if wait_policy:
        os.environ["OMP_WAIT_POLICY"] = wait_policy
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(inter_op)
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_torch(a, data, specs):
    import numpy as np
    import torch
    import torch.nn.functional as F

    import models_torch

    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    rss_baseline = max_rss_mib()  # runtime + data loaded, no model yet

    net = models_torch.build(a.model, data.n_classes)
    counts = models_torch.count_params(net)
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=a.lr, betas=(0.9, 0.999), eps=specs.ADAM_EPS)

    # (N, 80, 80, 1) and (N, 1, 80, 80) are the same memory: no copy.
    x_train = torch.from_numpy(data.x_train).reshape(-1, 1, 80, 80)
    y_train = torch.from_numpy(data.y_train)
    x_val = torch.from_numpy(data.x_val).reshape(-1, 1, 80, 80)
    y_val = torch.from_numpy(data.y_val)
    n_train = x_train.shape[0]

    def predict():
        net.eval()
        with torch.inference_mode():
            return torch.cat([net(x_val[s : s + a.batch]) for s in range(0, x_val.shape[0], a.batch)])

    hist = dict(epoch_s=[], train_loss=[], train_acc=[], val_loss=[], val_acc=[])
    for epoch in range(a.epochs):
        if specs.uses_cosine(a.model):
            for group in opt.param_groups:
                group["lr"] = specs.cosine_lr(a.lr, epoch, a.epochs)
        perm = torch.from_numpy(rng.permutation(n_train))
        net.train()
        loss_sum, correct = 0.0, 0
        t0 = time.perf_counter()
        for s in range(0, n_train, a.batch):
            idx = perm[s : s + a.batch]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * idx.numel()
            correct += int((logits.argmax(1) == yb).sum())
        hist["epoch_s"].append(time.perf_counter() - t0)
        hist["train_loss"].append(loss_sum / n_train)
        hist["train_acc"].append(correct / n_train)
        if not a.timing_only:
            logits = predict()
            hist["val_loss"].append(float(F.cross_entropy(logits, y_val)))
            hist["val_acc"].append(float((logits.argmax(1) == y_val).float().mean()))
        log_epoch(epoch, a.epochs, hist)

    predict_runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        logits = predict()
        predict_runs.append(time.perf_counter() - t0)
    final_acc = float((logits.argmax(1) == y_val).float().mean())
    versions = dict(torch=torch.__version__)
    extra = dict(
        torch_parallel=torch.__config__.parallel_info().splitlines()[-1].strip(),
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "default"),
    )
    return hist, predict_runs, final_acc, counts, versions, extra, rss_baseline


def run_keras(a, data, specs):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.tf_inter_op)
    import keras

    import models_keras

    keras.utils.set_random_seed(a.seed)  # python, numpy and TF seeds: init and fit's shuffle
    rss_baseline = max_rss_mib()  # runtime + data loaded, no model yet
    net = models_keras.build(a.model, data.n_classes)
    counts = models_keras.count_params(net)
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate=a.lr, beta_1=0.9, beta_2=0.999, epsilon=specs.ADAM_EPS),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    hist = dict(epoch_s=[], train_loss=[], train_acc=[], val_loss=[], val_acc=[])

    class Recorder(keras.callbacks.Callback):
        """Times fit's training part of each epoch; validation runs after the clock stops."""

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            hist["epoch_s"].append(time.perf_counter() - self.t0)
            hist["train_loss"].append(float(logs["loss"]))
            hist["train_acc"].append(float(logs["accuracy"]))
            if not a.timing_only:
                r = self.model.evaluate(data.x_val, data.y_val, batch_size=a.batch, verbose=0, return_dict=True)
                hist["val_loss"].append(float(r["loss"]))
                hist["val_acc"].append(float(r["accuracy"]))
            log_epoch(epoch, a.epochs, hist)

    callbacks = []
    if specs.uses_cosine(a.model):
        callbacks.append(keras.callbacks.LearningRateScheduler(lambda e, _lr: specs.cosine_lr(a.lr, e, a.epochs)))
    callbacks.append(Recorder())  # last, so its clock starts after the schedule is applied
    net.fit(
        data.x_train,
        data.y_train,
        batch_size=a.batch,
        epochs=a.epochs,
        shuffle=True,
        verbose=0,
        callbacks=callbacks,
    )

    predict_runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        logits = net.predict(data.x_val, batch_size=a.batch, verbose=0)
        predict_runs.append(time.perf_counter() - t0)
    final_acc = float(np.mean(np.argmax(logits, axis=1) == data.y_val))
    versions = dict(tensorflow=tf.__version__, keras=keras.__version__)
    extra = dict(
        keras_backend=keras.backend.backend(),
        jit_compile=bool(net.jit_compile),
        tf_inter_op=a.tf_inter_op,
        onednn=os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default(on)"),
    )
    return hist, predict_runs, final_acc, counts, versions, extra, rss_baseline


def log_epoch(epoch, epochs, hist):
    msg = (
        f"epoch {epoch + 1}/{epochs}: {hist['epoch_s'][-1]:.2f} s, "
        f"loss {hist['train_loss'][-1]:.4f} acc {hist['train_acc'][-1]:.4f}"
    )
    if hist["val_acc"]:
        msg += f", val_loss {hist['val_loss'][-1]:.4f} val_acc {hist['val_acc'][-1]:.4f}"
    log(msg)


def main(argv=None):
    a = parse_args(argv)
    pin_threads_env(a.threads, a.tf_inter_op, a.omp_wait_policy)
    wall0 = time.perf_counter()

    import numpy as np

    import refdata
    import specs

    a.model = specs.canonical(a.model)
    data = refdata.load_split(a.data)
    rss_data = max_rss_mib()
    log(
        f"{a.framework} {a.model}: {len(data.y_train)} train / {len(data.y_val)} val, "
        f"{data.n_classes} classes, {a.threads} thread(s)"
    )
    runner = run_torch if a.framework == "torch" else run_keras
    hist, predict_runs, final_acc, counts, versions, extra, rss_baseline = runner(a, data, specs)

    epoch_s = hist["epoch_s"]
    timed = epoch_s[1:] if len(epoch_s) > 1 else epoch_s
    val_acc = hist["val_acc"]
    best_epoch = int(np.argmax(val_acc)) + 1 if val_acc else a.epochs
    result = dict(
        framework=a.framework,
        model=a.model,
        threads=a.threads,
        seed=a.seed,
        epochs=a.epochs,
        batch=a.batch,
        lr=a.lr,
        lr_schedule="cosine-per-epoch" if specs.uses_cosine(a.model) else "constant",
        optimizer=f"adam(b1=0.9,b2=0.999,eps={specs.ADAM_EPS:g})",
        timing_only=a.timing_only,
        data=os.path.abspath(a.data),
        n_classes=data.n_classes,
        n_train=int(len(data.y_train)),
        n_val=int(len(data.y_val)),
        params=counts["trainable"],
        params_total=counts["total"],
        epoch_s=epoch_s,
        warmup_epoch_s=epoch_s[0],
        s_per_epoch=statistics.median(timed),
        predict_runs_s=predict_runs,
        predict_s=statistics.median(predict_runs),
        peak_rss_mib=max_rss_mib(),
        rss_after_data_mib=rss_data,
        rss_baseline_mib=rss_baseline,
        train_loss=hist["train_loss"],
        train_acc=hist["train_acc"],
        val_loss=hist["val_loss"],
        val_acc=val_acc,
        final_val_acc=final_acc,
        best_val_acc=max(val_acc) if val_acc else final_acc,
        best_epoch=best_epoch,
        wall_s=time.perf_counter() - wall0,
        cpu=cpu_name(),
        versions=dict(python=platform.python_version(), numpy=np.__version__, **versions),
        extra=extra,
    )
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
