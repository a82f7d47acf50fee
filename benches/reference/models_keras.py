"""The four reference models in Keras 3 (TensorFlow backend), layer for layer as models.md.

Input (N, 80, 80, 1) NHWC = (time, mel, channel); outputs are logits (the loss applies the
softmax, from_logits=True). Keras' defaults already are the project's initialisation:
glorot_uniform kernels, orthogonal recurrent kernels, zero biases, unit_forget_bias=True.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
from keras import layers  # noqa: E402

import specs  # noqa: E402


def _recurrent_head(seq, n):
    x = layers.LSTM(128, return_sequences=True)(seq)
    x = layers.LSTM(32)(x)
    x = layers.Dense(200, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    return layers.Dense(n)(x)


def parallel_cnn(inp, n):
    a = layers.Conv2D(3, (8, 8), padding="same")(inp)
    a = layers.LeakyReLU(negative_slope=specs.LEAKY_SLOPE)(a)
    a = layers.MaxPooling2D((4, 4))(a)
    b = layers.Conv2D(4, (4, 4), padding="same")(inp)
    b = layers.LeakyReLU(negative_slope=specs.LEAKY_SLOPE)(b)
    b = layers.MaxPooling2D((2, 2))(b)
    x = layers.Concatenate()([layers.Flatten()(a), layers.Flatten()(b)])
    return layers.Dense(n)(x)


def cnn_lstm_1d(inp, n):
    x = layers.Reshape((80, 80))(inp)  # 80 time steps x 80 mel channels
    x = layers.Conv1D(8, 4, activation="relu")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(6, 3, activation="relu")(x)
    x = layers.MaxPooling1D(2)(x)  # (18, 6)
    return _recurrent_head(x, n)


def cnn_lstm_2d(inp, n):
    x = layers.Conv2D(8, (4, 4), activation="relu")(inp)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Conv2D(6, (3, 3), activation="relu")(x)
    x = layers.MaxPooling2D((2, 2))(x)  # (18 time, 18 mel, 6)
    x = layers.Reshape((18, 18 * 6))(x)
    return _recurrent_head(x, n)


def improved(inp, n):
    x = inp
    for i, filters in enumerate((8, 16, 32, 64)):
        x = layers.Conv2D(filters, (3, 3), padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=specs.BN_MOMENTUM_KERAS, epsilon=specs.BN_EPS)(x)
        x = layers.ReLU()(x)
        if i < 3:
            x = layers.MaxPooling2D((2, 2))(x)
    # Mean over the 10 time steps, mel bands kept; flattened channel-major as melgrad's NCHW.
    x = layers.AveragePooling2D((10, 1))(x)  # (1, 10 mel, 64)
    x = layers.Reshape((10, 64))(x)
    x = layers.Permute((2, 1))(x)  # (64, 10 mel)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    return layers.Dense(n)(x)


_BUILDERS = {
    "parallel-cnn": parallel_cnn,
    "cnn-lstm": cnn_lstm_1d,
    "cnn-lstm-2d": cnn_lstm_2d,
    "improved": improved,
}


def count_params(model: keras.Model) -> dict:
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    return dict(trainable=trainable, total=int(model.count_params()))


def build(model: str, n: int) -> keras.Model:
    name = specs.canonical(model)
    inp = keras.Input(specs.INPUT_SHAPE)
    net = keras.Model(inp, _BUILDERS[name](inp, n), name=name.replace("-", "_"))
    got = count_params(net)
    want = specs.expected_counts(name, n)
    assert got["trainable"] == want["trainable"], (name, n, got, want)
    assert got["total"] == want["keras_total"], (name, n, got, want)
    return net


if __name__ == "__main__":
    import numpy as np

    for m in specs.MODELS:
        for n in (8, 10):
            net = build(m, n)
            assert net(np.zeros((2, 80, 80, 1), "float32")).shape == (2, n)
            print(f"{m:12s} n={n:2d} keras {count_params(net)}")
