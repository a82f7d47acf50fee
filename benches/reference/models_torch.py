"""The four reference models in PyTorch, layer for layer as notes/models.md.

Input: (N, 1, 80, 80) = NCHW with H = time, W = mel. The Keras array (N, 80, 80, 1) is the
same memory, so `x.reshape(N, 1, 80, 80)` is free. Outputs are logits (softmax in the loss).

Initialisation as Keras: xavier_uniform_ (= Glorot uniform, PyTorch computes the conv fans
as C·kh·kw and O·kh·kw like Keras) on every conv/linear/LSTM input kernel, orthogonal_ on
the recurrent kernels, zero biases, forget-gate bias 1. nn.LSTM's second bias (bias_hh) is
zeroed and frozen: see specs.py for why and for the resulting counts.
"""

import torch
from torch import nn
import torch.nn.functional as F

import specs


def _dense_init(module: nn.Module) -> None:
    nn.init.xavier_uniform_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def _lstm_init(lstm: nn.LSTM) -> None:
    hidden = lstm.hidden_size
    nn.init.xavier_uniform_(lstm.weight_ih_l0)  # (4H, in): fans in, 4H as Keras' (in, 4H)
    nn.init.orthogonal_(lstm.weight_hh_l0)  # (4H, H) = transpose of Keras' (H, 4H)
    with torch.no_grad():
        lstm.bias_ih_l0.zero_()
        lstm.bias_ih_l0[hidden : 2 * hidden] = 1.0  # gate order i, f, g, o in both
        lstm.bias_hh_l0.zero_()
    lstm.bias_hh_l0.requires_grad_(False)


def keras_init(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            _dense_init(module)
        elif isinstance(module, nn.LSTM):
            _lstm_init(module)
    return model


class ParallelCNN(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        # padding="same" with an even kernel pads (k-1)//2 before and the rest after,
        # exactly TF's rule (k=8: 3/4, k=4: 1/2).
        self.conv_a = nn.Conv2d(1, 3, 8, padding="same")
        self.conv_b = nn.Conv2d(1, 4, 4, padding="same")
        self.head = nn.Linear(3 * 20 * 20 + 4 * 40 * 40, n)

    def forward(self, x):
        a = F.max_pool2d(F.leaky_relu(self.conv_a(x), specs.LEAKY_SLOPE), 4)
        b = F.max_pool2d(F.leaky_relu(self.conv_b(x), specs.LEAKY_SLOPE), 2)
        # Flatten order is (C, H, W) here and (H, W, C) in Keras: a fixed permutation of
        # the Dense rows, same function class and same count.
        return self.head(torch.cat([a.flatten(1), b.flatten(1)], dim=1))


class RecurrentHead(nn.Module):
    """LSTM(128, sequences) -> LSTM(32, last state) -> Dense(200, ReLU) -> Dropout -> Dense(n)."""

    def __init__(self, features: int, n: int):
        super().__init__()
        self.lstm1 = nn.LSTM(features, 128, batch_first=True)
        self.lstm2 = nn.LSTM(128, 32, batch_first=True)
        self.fc = nn.Linear(32, 200)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(200, n)

    def forward(self, seq):  # (N, T, features)
        seq, _ = self.lstm1(seq)
        _, (h_last, _) = self.lstm2(seq)
        return self.out(self.drop(F.relu(self.fc(h_last[0]))))


class CnnLstm1d(nn.Module):
    """Conv1D reading: 80 time steps, the 80 mel bands are the channels."""

    def __init__(self, n: int):
        super().__init__()
        self.conv1 = nn.Conv1d(80, 8, 4)
        self.conv2 = nn.Conv1d(8, 6, 3)
        self.rnn = RecurrentHead(6, n)

    def forward(self, x):
        x = x[:, 0].transpose(1, 2)  # (N, time, mel) -> NCL (N, mel, time)
        x = F.max_pool1d(F.relu(self.conv1(x)), 2)
        x = F.max_pool1d(F.relu(self.conv2(x)), 2)  # (N, 6, 18)
        return self.rnn(x.transpose(1, 2))  # (N, 18 steps, 6)


class CnnLstm2d(nn.Module):
    """Conv2D reading: the 18 pooled time frames are the sequence, 18 mel x 6 ch features."""

    def __init__(self, n: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 4)
        self.conv2 = nn.Conv2d(8, 6, 3)
        self.rnn = RecurrentHead(18 * 6, n)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (N, 6, 18 time, 18 mel)
        # Keras Reshape((18, 108)) on NHWC: features ordered mel-major, then channel.
        seq = x.permute(0, 2, 3, 1).reshape(x.shape[0], 18, 18 * 6)
        return self.rnn(seq)


class Improved(nn.Module):
    """Four conv-BN-ReLU blocks (max-pool after the first three), mean over time (mel bands
    kept), flatten channel-major, dropout, dense."""

    def __init__(self, n: int):
        super().__init__()
        chans = [1, 8, 16, 32, 64]
        self.blocks = nn.ModuleList()
        for cin, cout in zip(chans, chans[1:]):
            self.blocks.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, padding="same", bias=False),
                    nn.BatchNorm2d(cout, eps=specs.BN_EPS, momentum=1 - specs.BN_MOMENTUM_KERAS),
                    nn.ReLU(),
                )
            )
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(64 * 10, n)

    def forward(self, x):
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = F.max_pool2d(x, 2)
        return self.out(self.drop(x.mean(dim=2).flatten(1)))  # (N, 64, 10 mel) -> 640


_BUILDERS = {
    "parallel-cnn": ParallelCNN,
    "cnn-lstm": CnnLstm1d,
    "cnn-lstm-2d": CnnLstm2d,
    "improved": Improved,
}


def count_params(model: nn.Module) -> dict:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stored = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return dict(trainable=trainable, total=stored + stats)


def build(model: str, n: int) -> nn.Module:
    name = specs.canonical(model)
    net = keras_init(_BUILDERS[name](n))
    got = count_params(net)
    want = specs.expected_counts(name, n)
    assert got["trainable"] == want["trainable"], (name, n, got, want)
    assert got["total"] == want["torch_total"], (name, n, got, want)
    return net


if __name__ == "__main__":
    for m in specs.MODELS:
        for n in (8, 10):
            net = build(m, n)
            y = net.eval()(torch.zeros(2, 1, 80, 80))
            assert y.shape == (2, n)
            print(f"{m:12s} n={n:2d} torch {count_params(net)}")
