"""Contextual decomposition (CD) of a Keras model's output (Singh, Murdoch & Yu 2019; TRIM paper).

The input is split as x = relevant + irrelevant; CD carries the pair (rel, irrel) through every
layer of a functional model so that rel + irrel equals the layer's ordinary output at each step,
and returns the pair for the output layer's pre-activation (the logit when the last activation is
a sigmoid or softmax; a linear output as it is).

Rules, per layer (r, i = incoming rel, irrel; r', i' = outgoing):
  affine (Dense, Conv2D, DepthwiseConv2D, SeparableConv2D, BatchNormalization at inference,
          Rescaling)                  r' = W r,  i' = W i + b
  elementwise activation f (ReLU, swish, sigmoid, linear, ...; inside a layer or as its own layer)
                                      r' = ½[(f(r + i) − f(i)) + (f(r) − f(0))],  i' = f(r + i) − r'
  MaxPooling2D                        the window's winner is chosen on the total r + i; both parts
                                      take the value at that position
  SFNet TopK                          the kept mask is chosen on the total, applied to both parts
  linear, weight-free (Average / GlobalAverage pooling, Add, Concatenate, Flatten, Reshape,
          ZeroPadding2D, Cropping2D, Dropout and other identities at inference)
                                      applied to each part
  nested functional / Sequential models are decomposed layer by layer.

Biases: every bias and shift (Dense / conv bias, batch-norm β − γμ/σ, Rescaling offset) goes to the
irrelevant part. Hence relevant = 0 gives rel = 0 at every layer, and completeness
rel + irrel = f(x) holds exactly (up to float round-off): i' is defined as the total minus r'.
With zero biases and no non-linearity, r' = W r at every layer, so rel is the model applied to
`relevant` alone. (The paper's code splits biases in proportion to |rel| and |irrel|; we do not.)

A layer without a rule stops the decomposition with an InputError naming the layer and its class.
All work is batched TF ops; `decompose` traces one graph function per model and reuses it.
"""
from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from galaxy_xai.errors import InputError

# Activations stripped from the output layer: CD decomposes their argument (the logit).
SQUASHING = ("sigmoid", "softmax")
_AFFINE = (layers.Dense, layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D)
_ELEMENTWISE = (layers.Activation, layers.ReLU, layers.LeakyReLU, layers.ELU, layers.PReLU)
_IDENTITY = (layers.Dropout, layers.SpatialDropout2D, layers.GaussianNoise, layers.GaussianDropout,
             layers.InputLayer, layers.Identity, layers.ActivityRegularization)
_LINEAR = (layers.AveragePooling2D, layers.GlobalAveragePooling2D, layers.Flatten, layers.Reshape,
           layers.ZeroPadding2D, layers.Cropping2D, layers.Permute, layers.Add, layers.Concatenate,
           layers.Average, layers.Subtract)


def _name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _activation_rule(f, r, i):
    """CD linearisation of an elementwise f (see the module docstring)."""
    total = f(r + i)
    f_i, f_r = f(i), f(r)
    rel = 0.5 * ((total - f_i) + (f_r - f(tf.zeros_like(r[:1]))))
    return rel, total - rel


def _affine_parts(layer, x):
    """(W x, b) of an affine layer, without its activation; b broadcasts against W x (or None)."""
    if isinstance(layer, layers.SeparableConv2D):
        y = keras.ops.separable_conv(x, layer.depthwise_kernel, layer.pointwise_kernel, strides=layer.strides,
                                     padding=layer.padding, dilation_rate=layer.dilation_rate,
                                     data_format=layer.data_format)
    elif isinstance(layer, layers.DepthwiseConv2D):
        y = keras.ops.depthwise_conv(x, layer.kernel, strides=layer.strides, padding=layer.padding,
                                     dilation_rate=layer.dilation_rate, data_format=layer.data_format)
    elif isinstance(layer, layers.Conv2D):
        y = layer.convolution_op(x, layer.kernel)
    else:
        y = keras.ops.matmul(x, layer.kernel)
    bias = layer.bias if getattr(layer, "use_bias", True) and layer.bias is not None else None
    if bias is not None and getattr(layer, "data_format", "channels_last") == "channels_first" and y.shape.rank > 2:
        bias = tf.reshape(bias, [1, -1] + [1] * (y.shape.rank - 2))
    return y, bias


def _batch_norm(layer, r, i):
    shape = [1] * r.shape.rank
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    shape[axis] = -1
    scale = tf.math.rsqrt(tf.convert_to_tensor(layer.moving_variance) + layer.epsilon)
    if layer.scale:
        scale = scale * layer.gamma
    shift = -tf.convert_to_tensor(layer.moving_mean) * scale
    if layer.center:
        shift = shift + layer.beta
    scale, shift = tf.reshape(scale, shape), tf.reshape(shift, shape)
    return r * scale, i * scale + shift


def _max_pool(layer, r, i):
    if layer.data_format == "channels_first":
        raise InputError(f"cd: layer {layer.name!r} ({type(layer).__name__}) is channels_first; only channels_last max pooling is supported")
    total, index = tf.nn.max_pool_with_argmax(r + i, layer.pool_size, layer.strides, layer.padding.upper(),
                                              include_batch_in_index=True)
    rel = tf.reshape(tf.gather(tf.reshape(r, [-1]), tf.reshape(index, [-1])), tf.shape(total))
    return rel, total - rel


def _top_k(layer, r, i):
    total = r + i
    width = total.shape[-1]
    if layer.k is None or layer.k >= width:
        return r, i
    _, index = tf.math.top_k(total, k=layer.k)
    mask = tf.reduce_sum(tf.one_hot(index, width, dtype=total.dtype), axis=-2)
    return r * mask, i * mask


def _functional(model):
    """The functional graph of a model (a Sequential's inner one), or None."""
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    return model if hasattr(model, "_nodes_by_depth") else None


def _propagate_layer(layer, rs, is_, strip: bool):
    """(rel, irrel) out of one layer; rs / is_ are its input parts in call order."""
    from galaxy_xai.models.sfnet import TopK  # registered layer of the SFNet

    if _functional(layer) is not None:
        out = _propagate_graph(_functional(layer), rs, is_, strip)
        return out
    r, i = rs[0], is_[0]
    if isinstance(layer, _AFFINE):
        wx, bias = _affine_parts(layer, tf.concat([r, i], 0))
        n = tf.shape(r)[0]
        r, i = wx[:n], wx[n:]
        if bias is not None:
            i = i + bias
        activation = layer.activation
        if activation is None or _name(activation) == "linear" or (strip and _name(activation) in SQUASHING):
            return r, i
        return _activation_rule(activation, r, i)
    if isinstance(layer, layers.BatchNormalization):
        return _batch_norm(layer, r, i)
    if isinstance(layer, layers.Rescaling):
        return r * layer.scale, i * layer.scale + layer.offset
    if isinstance(layer, _ELEMENTWISE):
        if strip and isinstance(layer, layers.Activation) and _name(layer.activation) in SQUASHING:
            return r, i
        return _activation_rule(lambda x: layer(x, training=False), r, i)
    if isinstance(layer, layers.MaxPooling2D):
        return _max_pool(layer, r, i)
    if isinstance(layer, TopK):
        return _top_k(layer, r, i)
    if isinstance(layer, _IDENTITY):
        return r, i
    if isinstance(layer, _LINEAR):
        if len(rs) > 1:
            return layer(list(rs), training=False), layer(list(is_), training=False)
        return layer(r, training=False), layer(i, training=False)
    raise InputError(f"cd: no contextual-decomposition rule for layer {layer.name!r} of class {type(layer).__name__}")


def _propagate_graph(graph, rs, is_, strip: bool):
    """Walk a functional graph by depth (as Keras runs it); strip the output layer's squashing."""
    parts = {id(t): (r, i) for t, r, i in zip(graph.inputs, rs, is_)}
    outputs = {id(t) for t in graph.outputs}
    if len(outputs) != 1:
        raise InputError(f"cd: model {graph.name!r} has {len(outputs)} outputs; one is supported")
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            if not node.input_tensors or any(id(t) not in parts for t in node.input_tensors):
                continue
            ins = [parts[id(t)] for t in node.input_tensors]
            last = any(id(t) in outputs for t in node.outputs)
            r, i = _propagate_layer(node.operation, [p[0] for p in ins], [p[1] for p in ins], strip and last)
            parts[id(node.outputs[0])] = (r, i)
    return parts[id(graph.outputs[0])]


def _graph_of(model):
    graph = _functional(model)
    if graph is None:
        raise InputError(f"cd: model {model.name!r} of class {type(model).__name__} is not functional or Sequential")
    return graph


class Decomposer:
    """One traced CD function per model: __call__(relevant, irrelevant) -> (rel, irrel) tensors."""

    def __init__(self, model):
        graph = _graph_of(model)

        @tf.function(reduce_retracing=True, autograph=False)  # plain Python graph walk; errors pass as raised
        def run(relevant, irrelevant):
            r, i = _propagate_graph(graph, [relevant], [irrelevant], strip=True)
            n = tf.shape(r)[0]
            return tf.reshape(r, [n, -1]), tf.reshape(i, [n, -1])

        self._run = run

    def __call__(self, relevant, irrelevant, batch_size: int = 64):
        relevant = tf.convert_to_tensor(relevant, tf.float32)
        irrelevant = tf.convert_to_tensor(irrelevant, tf.float32)
        rels, irrels = [], []
        for s in range(0, int(relevant.shape[0]), batch_size):
            r, i = self._run(relevant[s:s + batch_size], irrelevant[s:s + batch_size])
            rels.append(r)
            irrels.append(i)
        return tf.concat(rels, 0), tf.concat(irrels, 0)


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def decomposer(model) -> Decomposer:
    """The cached Decomposer of `model` (traced once, reused by every call)."""
    if model not in _CACHE:
        _CACHE[model] = Decomposer(model)
    return _CACHE[model]


def decompose(model, relevant, irrelevant, batch_size: int = 64, compiled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CD of `model`'s output pre-activation for inputs relevant + irrelevant: (rel, irrel) as
    numpy [n, outputs]; rel + irrel equals the model's logit (see the module docstring).
    `compiled=False` runs the layer walk eagerly: no trace, quicker for a tiny model used once."""
    if np.shape(relevant) != np.shape(irrelevant):
        raise InputError(f"cd: relevant {np.shape(relevant)} and irrelevant {np.shape(irrelevant)} differ in shape")
    if not compiled:
        r, i = _propagate_graph(_graph_of(model), [tf.convert_to_tensor(relevant, tf.float32)],
                                [tf.convert_to_tensor(irrelevant, tf.float32)], strip=True)
        n = int(r.shape[0])
        return tf.reshape(r, [n, -1]).numpy(), tf.reshape(i, [n, -1]).numpy()
    r, i = decomposer(model)(relevant, irrelevant, batch_size)
    return r.numpy(), i.numpy()


def logit(model, x, batch_size: int = 64) -> np.ndarray:
    """The output layer's pre-activation [n, outputs] (rel + irrel for irrelevant = 0 parts): the
    reference that completeness is checked against."""
    rel, irrel = decompose(model, np.zeros_like(x), x, batch_size)
    return rel + irrel
