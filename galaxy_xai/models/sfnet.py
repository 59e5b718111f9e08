"""Sparse Feature Network (SPEC §4): a ResNet18 whose 512 pooled features pass a top-k filter.

The penultimate layer keeps only the k largest of 512 non-negative activations per galaxy,
so the linear head explains each prediction with k features. Analysis code reads them from
the layer named "features" and the head's weights from the layer named "head".
Inputs are images scaled to [0, 1]; the stem's batch norm absorbs any offset.
"""
from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="galaxy_xai")
class TopK(layers.Layer):
    """Keep the k largest values per example along the last axis and zero the rest.

    Exactly k entries are kept even with ties (`top_k` breaks them by position), and the
    gradient flows only through the kept entries. k=None, or k >= width, is the identity.
    """

    def __init__(self, k=None, **kwargs):
        super().__init__(**kwargs)
        if k is not None and k < 1:
            raise ValueError(f"TopK needs k >= 1 or None, got {k}")
        self.k = k

    def call(self, x):
        width = x.shape[-1]
        if self.k is None or self.k >= width:
            return x
        _, indices = ops.top_k(x, k=self.k)
        # One-hot rows of the kept positions summed: a 0/1 mask with exactly k ones.
        mask = ops.sum(ops.one_hot(indices, width, dtype=x.dtype), axis=-2)
        return x * ops.stop_gradient(mask)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@keras.saving.register_keras_serializable(package="galaxy_xai")
def rmse_loss(y_true, y_pred):
    """RMSE over the whole batch (all examples and outputs), as the paper's fastai loss.

    Returns one scalar: the mean of per-galaxy RMSEs would be the MAE for a single output.
    """
    y_true = ops.cast(y_true, y_pred.dtype)
    return ops.sqrt(ops.mean(ops.square(y_pred - y_true)))


def _conv_bn(x, filters, kernel_size, strides, name, bn_momentum, bn_epsilon):
    # Bias-free convs as in torchvision: the following batch norm has its own shift.
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"{name}_conv")(x)
    return layers.BatchNormalization(momentum=bn_momentum, epsilon=bn_epsilon,
                                     name=f"{name}_bn")(x)


def _basic_block(x, filters, strides, name, bn_momentum, bn_epsilon):
    """Two 3x3 conv-BN layers plus a shortcut; 1x1 conv-BN projection when the shape changes."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, strides, f"{name}_proj", bn_momentum, bn_epsilon)
    x = _conv_bn(x, filters, 3, strides, f"{name}_1", bn_momentum, bn_epsilon)
    x = layers.ReLU(name=f"{name}_1_relu")(x)
    x = _conv_bn(x, filters, 3, 1, f"{name}_2", bn_momentum, bn_epsilon)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_out")(x)


def build_resnet18(input_shape, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2),
                   bn_momentum=0.9, bn_epsilon=1e-5):
    """ResNet18 without its classifier: 7x7/2 stem, 3x3/2 max pool, four stages of basic blocks.

    Matches torchvision's resnet18 minus fc: 11,176,512 trainable parameters (plus 9,600
    non-trainable batch-norm statistics). BN momentum / epsilon default to torchvision's
    (0.1 / 1e-5 in its convention), which also lets the statistics settle within a few epochs.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv_bn(inputs, widths[0], 7, 2, "stem", bn_momentum, bn_epsilon)
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, (filters, n_blocks) in enumerate(zip(widths, blocks), start=1):
        for block in range(n_blocks):
            # Downsample at the first block of every stage but the first (the pool did it).
            strides = 2 if block == 0 and stage > 1 else 1
            x = _basic_block(x, filters, strides, f"stage{stage}_block{block + 1}",
                             bn_momentum, bn_epsilon)
    return keras.Model(inputs, x, name="resnet18")


def _pooled(backbone, relu_name):
    x = layers.GlobalAveragePooling2D(name="avg_pool")(backbone.output)
    # The paper's ReLU after pooling: the features are already >= 0 here (each block ends
    # in a ReLU), so it only makes their non-negativity explicit.
    return layers.ReLU(name=relu_name)(x)


def _linear_head(backbone, features, n_outputs, name):
    outputs = layers.Dense(n_outputs, name="head", dtype="float32")(features)  # float32 under mixed precision
    return keras.Model(backbone.input, outputs, name=name)


def build_sfnet(k, n_outputs, input_shape, **backbone_kwargs):
    """ResNet18 -> global average pool -> ReLU -> TopK(k) ("features") -> linear Dense ("head")."""
    backbone = build_resnet18(input_shape, **backbone_kwargs)
    features = TopK(k, name="features")(_pooled(backbone, relu_name="pool_relu"))
    return _linear_head(backbone, features, n_outputs, name="sfnet")


def build_dense_twin(n_outputs, input_shape, **backbone_kwargs):
    """The same network without TopK: "features" is the dense 512-d ReLU output."""
    backbone = build_resnet18(input_shape, **backbone_kwargs)
    features = _pooled(backbone, relu_name="features")
    return _linear_head(backbone, features, n_outputs, name="dense_twin")


def compile_sfnet(model, lr, decay_steps, weight_decay=1e-4, final_lr_fraction=0.0,
                  jit_compile=False):
    """AdamW with a cosine decay of the learning rate over `decay_steps` (= epochs x steps).

    The paper trained from ImageNet weights with ranger, lr 0.1 and a flat + cosine schedule
    for 20 epochs. From random weights on a CPU with a few epochs, AdamW (lr ~1e-3) with a
    plain cosine decay converges quicker and more reliably; RMSE loss as in the paper.
    """
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr, decay_steps=decay_steps, alpha=final_lr_fraction
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay),
        loss=rmse_loss,
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
        jit_compile=jit_compile,
    )
    return model
