"""Building a network in Keras from its layer specs (weights are only ever loaded into networks built here)."""

from cnnlab.networks.architectures import parse_spec
from cnnlab.networks.counting import summarize
from cnnlab.networks.limits import check_size


def build(layers, input_shape, num_classes, name="cnnlab", within_limits=True):
    """A Keras Functional model: Input -> the spec's layers -> Dense(num_classes, softmax, float32).

    Nothing is built over the server's limits (check_size): the spec is counted first, in plain Python.
    within_limits=False only for a network already trained here (a stored run: its weights are on disk).
    """
    layers = parse_spec(layers)
    if within_limits:
        check_size(layers, input_shape, num_classes)  # SpecError or ConfigError before any Keras work
    rows = summarize(layers, input_shape, num_classes)
    import keras  # heavy: only when a model is really built

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for layer, row in zip(layers, rows):
        x = _keras_layer(keras, layer, row.name)(x)
    # the output stays float32 under mixed precision so the softmax is stable
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="output")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def _keras_layer(keras, layer, name):
    kl = keras.layers
    if layer.kind == "conv":
        return kl.Conv2D(layer.size, layer.kernel, strides=layer.stride, padding=layer.padding,
                         activation=layer.activation, name=name)
    if layer.kind in ("maxpool", "avgpool"):
        pool = kl.MaxPooling2D if layer.kind == "maxpool" else kl.AveragePooling2D
        return pool(layer.kernel, strides=layer.stride, padding=layer.padding, name=name)
    if layer.kind == "dropout":
        return kl.Dropout(layer.rate, name=name)
    if layer.kind == "dense":
        return kl.Dense(layer.size, activation=layer.activation, name=name)
    if layer.kind == "batchnorm":
        return kl.BatchNormalization(name=name)
    if layer.kind == "globalavgpool":
        return kl.GlobalAveragePooling2D(name=name)
    return kl.Flatten(name=name)
