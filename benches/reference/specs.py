"""What the reference models must look like, independent of any framework.

The numbers come from notes/models.md (parallel-cnn, cnn-lstm, cnn-lstm-2d) and from the
layer list of `improved` there. Both model files assert against this table, so a drift in
either implementation fails loudly instead of producing a silently different benchmark.

Three counts per model:
- `trainable`: scalars the optimiser updates. Identical in Keras, PyTorch and melgrad.
- `keras_total`: Keras `count_params()`, which also counts BatchNorm moving mean/variance.
- `torch_total`: PyTorch `parameters()` (including the frozen LSTM `bias_hh`, 4H per LSTM
  layer, see below) plus the BatchNorm running mean/variance buffers.

Why torch_total differs for the LSTM models: `nn.LSTM` computes
    gates = W_ih x + b_ih + W_hh h + b_hh
with two bias vectors of 4H each, whereas Keras (and melgrad) have one bias. We keep
`nn.LSTM` (it is what a PyTorch user would write, and its fused CPU kernel is the fair
speed reference), set `bias_hh` to zero and freeze it (`requires_grad=False`). The model is
then mathematically the Keras one (b_ih plays the role of the Keras bias) with the same
trainable count; it merely stores 4H extra zeros per LSTM layer
(4·128 + 4·32 = 640 for the two-layer models).
"""

import math

MODELS = ("parallel-cnn", "cnn-lstm", "cnn-lstm-2d", "improved")
# Working names used elsewhere in the project.
ALIASES = {"crnn-bn": "improved", "bn-cnn": "improved", "cnn-lstm-1d": "cnn-lstm"}

INPUT_SHAPE = (80, 80, 1)  # Keras layout: (time, mel, channel)
LEAKY_SLOPE = 0.3
BN_MOMENTUM_KERAS = 0.9  # melgrad bn-cnn: running statistics keep 90 % per step (PyTorch momentum 0.1)
BN_EPS = 1e-3
ADAM_EPS = 1e-7  # Keras default; PyTorch's default is 1e-8, so we pass it explicitly

_LSTM_EXTRA_BIAS = 4 * 128 + 4 * 32  # nn.LSTM's second bias vector, two layers


def canonical(model: str) -> str:
    model = ALIASES.get(model, model)
    if model not in MODELS:
        raise SystemExit(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    return model


def _dense(fan_in: int, units: int) -> int:
    return fan_in * units + units


def expected_counts(model: str, n: int) -> dict:
    """Parameter counts for `n` genres, derived layer by layer (see models.md)."""
    model = canonical(model)
    if model == "parallel-cnn":
        convs = (8 * 8 * 1 * 3 + 3) + (4 * 4 * 1 * 4 + 4)
        trainable = convs + _dense(3 * 20 * 20 + 4 * 40 * 40, n)
        return dict(trainable=trainable, keras_total=trainable, torch_total=trainable)
    if model in ("cnn-lstm", "cnn-lstm-2d"):
        if model == "cnn-lstm":
            convs = (4 * 80 * 8 + 8) + (3 * 8 * 6 + 6)
            lstm_in = 6
        else:
            convs = (4 * 4 * 1 * 8 + 8) + (3 * 3 * 8 * 6 + 6)
            lstm_in = 18 * 6
        lstms = 4 * 128 * (lstm_in + 128 + 1) + 4 * 32 * (128 + 32 + 1)
        trainable = convs + lstms + _dense(32, 200) + _dense(200, n)
        return dict(
            trainable=trainable,
            keras_total=trainable,
            torch_total=trainable + _LSTM_EXTRA_BIAS,
        )
    # improved: four bias-free 3x3 convs, each followed by BatchNorm (gamma, beta trainable;
    # moving mean/variance not), mean over time keeping 10 mel bands, then Dense(64·10 → n).
    chans = [1, 8, 16, 32, 64]
    convs = sum(9 * cin * cout for cin, cout in zip(chans, chans[1:]))
    bn_trainable = sum(2 * c for c in chans[1:])
    bn_stats = sum(2 * c for c in chans[1:])
    trainable = convs + bn_trainable + _dense(64 * 10, n)
    total = trainable + bn_stats
    return dict(trainable=trainable, keras_total=total, torch_total=total)


# The figures stated in models.md: a second, independent check on expected_counts.
STATED = {
    ("parallel-cnn", 8): 61_071,
    ("parallel-cnn", 10): 76_273,
    ("cnn-lstm", 8): 100_654,
    ("cnn-lstm-2d", 8): 150_734,
}
for (_m, _n), _count in STATED.items():
    assert expected_counts(_m, _n)["trainable"] == _count, (_m, _n)


def cosine_lr(base_lr: float, epoch: int, epochs: int) -> float:
    """Cosine schedule over the epochs, stepped once per epoch (epoch counts from 0):
    lr_e = base · ½ (1 + cos(π e / E)). Used by `improved` only; melgrad must match it."""
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def uses_cosine(model: str) -> bool:
    return canonical(model) == "improved"
