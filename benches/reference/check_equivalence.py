"""Check that the PyTorch and Keras models compute the same function, layer for layer.

For each model: build it in Keras, copy every Keras weight into the PyTorch model
(transposing kernels, permuting the Dense rows where the flatten orders differ), run both
in inference mode on the same input and compare the logits. Also prints both frameworks'
parameter counts. Exits non-zero on a mismatch.

    python check_equivalence.py [--genres 8]
"""

import argparse
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import models_keras  # noqa: E402
import models_torch  # noqa: E402
import specs  # noqa: E402

warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")


def _set(param, value):
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _copy_conv(k_layer, t_conv):
    w = k_layer.kernel.numpy()
    # Keras (kh, kw, cin, cout) / (k, cin, cout) -> PyTorch (cout, cin, kh, kw) / (cout, cin, k)
    _set(t_conv.weight, w.transpose(3, 2, 0, 1) if w.ndim == 4 else w.transpose(2, 1, 0))
    if t_conv.bias is not None:
        _set(t_conv.bias, k_layer.bias.numpy())


def _copy_dense(k_layer, t_linear, row_order=None):
    w = k_layer.kernel.numpy()  # (in, out)
    if row_order is not None:
        w = w[row_order]
    _set(t_linear.weight, w.T)
    _set(t_linear.bias, k_layer.bias.numpy())


def _copy_lstm(k_layer, t_lstm):
    kernel, recurrent, bias = (v.numpy() for v in k_layer.cell.weights)
    _set(t_lstm.weight_ih_l0, kernel.T)
    _set(t_lstm.weight_hh_l0, recurrent.T)
    _set(t_lstm.bias_ih_l0, bias)
    _set(t_lstm.bias_hh_l0, np.zeros_like(bias))


def _copy_bn(k_layer, t_bn):
    gamma, beta, mean, var = (v.numpy() for v in k_layer.weights)
    for dst, src in ((t_bn.weight, gamma), (t_bn.bias, beta), (t_bn.running_mean, mean), (t_bn.running_var, var)):
        _set(dst, src)


def _layers(k_model, kind):
    return [layer for layer in k_model.layers if type(layer).__name__ == kind]


def _nhwc_to_nchw_rows(c, h, w, offset):
    """Keras flattens (H, W, C); PyTorch (C, H, W). Row j of PyTorch's input = Keras row."""
    return (np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()) + offset


def transfer(name, k, t):
    convs = _layers(k, "Conv2D") + _layers(k, "Conv1D")
    dense = _layers(k, "Dense")
    if name == "parallel-cnn":
        # Functional graph order: branch A's conv (3 filters) and B's (4) in creation order.
        by_filters = {layer.filters: layer for layer in convs}
        _copy_conv(by_filters[3], t.conv_a)
        _copy_conv(by_filters[4], t.conv_b)
        rows = np.concatenate([_nhwc_to_nchw_rows(3, 20, 20, 0), _nhwc_to_nchw_rows(4, 40, 40, 1200)])
        _copy_dense(dense[0], t.head, rows)
    elif name in ("cnn-lstm", "cnn-lstm-2d"):
        _copy_conv(convs[0], t.conv1)
        _copy_conv(convs[1], t.conv2)
        lstms = _layers(k, "LSTM")
        _copy_lstm(lstms[0], t.rnn.lstm1)
        _copy_lstm(lstms[1], t.rnn.lstm2)
        _copy_dense(dense[0], t.rnn.fc)
        _copy_dense(dense[1], t.rnn.out)
    else:
        for conv, bn, block in zip(convs, _layers(k, "BatchNormalization"), t.blocks):
            _copy_conv(conv, block[0])
            _copy_bn(bn, block[1])
        _copy_dense(dense[0], t.out)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--genres", type=int, default=8)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    x = rng.uniform(-80, 0, (4, 80, 80, 1)).astype(np.float32) / 20.0
    failed = False
    for name in specs.MODELS:
        k = models_keras.build(name, a.genres)
        t = models_torch.build(name, a.genres).eval()
        if name == "improved":  # non-trivial BN statistics, so inference-mode BN is tested
            for bn in _layers(k, "BatchNormalization"):
                c = bn.moving_mean.shape[0]
                bn.moving_mean.assign(rng.normal(0, 1, c).astype(np.float32))
                bn.moving_variance.assign(rng.uniform(0.5, 2, c).astype(np.float32))
        transfer(name, k, t)
        y_keras = np.asarray(k(x, training=False))
        with torch.no_grad():
            y_torch = t(torch.from_numpy(x).reshape(-1, 1, 80, 80)).numpy()
        rel = np.abs(y_keras - y_torch).max() / max(np.abs(y_keras).max(), 1e-12)
        kc, tc = models_keras.count_params(k), models_torch.count_params(t)
        ok = rel < 1e-4
        failed |= not ok
        print(
            f"{name:12s} n={a.genres}: max rel diff {rel:.1e} {'ok' if ok else 'MISMATCH'}; "
            f"params trainable keras {kc['trainable']:,} torch {tc['trainable']:,}; "
            f"stored keras {kc['total']:,} torch {tc['total']:,}"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
