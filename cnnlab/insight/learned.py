"""What a network learned and how it learned it: its test images as points of a map, and its timeline.

- `embedding`: the activations of the layer before the output for test images, projected to 2-D
  (PCA by default, computed with NumPy; t-SNE with scikit-learn on request): images the network
  finds alike land close together, so a trained network pulls its classes apart.
- `timeline_frames`: a run's timeline (training.Timeline, recorded every epoch) as what the page
  replays: the first layer's filters and one image's feature maps at an epoch, and each layer's
  weight spread and update size per epoch.

Everything returns NumPy arrays or plain rows; the pages only place them.
"""

import base64
import io

import numpy as np

from cnnlab.data import datasets
from cnnlab.insight import inspection
from cnnlab.networks import limits


def features(model, images, batch_size=512):
    """(n, features): what the layer before the output gives for each image (the network's own description).

    In batches of at most batch_size images and of no more layer outputs than a page may hold at once
    (limits.images_per_batch)."""
    import keras

    probe = keras.Model(model.input, model.get_layer("output").input)
    batch_size = min(batch_size, limits.images_per_batch(limits.model_activations(probe)))
    x = datasets.preprocess_images(np.asarray(images))
    return np.concatenate([np.asarray(probe(x[i:i + batch_size], training=False), np.float32)
                           for i in range(0, len(x), batch_size)])


def pca(points, dimensions=2):
    """(n, dimensions): the points projected on their directions of largest variance (SVD of the centred data)."""
    centred = np.asarray(points, np.float64) - np.mean(points, axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    return (centred @ directions[:dimensions].T).astype(np.float32)


def tsne(points, seed=0, on_progress=None, stages=4):
    """(n, 2) by t-SNE (scikit-learn; PCA first to 50 dimensions, as its authors advise for speed).

    Run in `stages` calls, each going on from where the last one left the points, so that on_progress(fraction)
    can be told after each: the first spreads the points with early exaggeration, the others refine them
    (about 1,000 iterations in all, scikit-learn's default).
    """
    from sklearn.manifold import TSNE

    points = np.asarray(points, np.float32)
    reduced = pca(points, min(50, len(points) - 1)) if points.shape[1] > 50 else points
    perplexity = min(30.0, max(5.0, (len(points) - 1) / 4))
    mapped = "pca"
    for stage in range(stages):
        mapped = TSNE(n_components=2, init=mapped, random_state=seed, perplexity=perplexity,
                      early_exaggeration=12.0 if stage == 0 else 1.0, max_iter=max(250, 1000 // stages)
                      ).fit_transform(reduced)
        if on_progress is not None:
            on_progress((stage + 1) / stages)
    return np.asarray(mapped, np.float32)


def embedding(model, images, method="pca", on_progress=None):
    """(n, 2) map of images: where the network's last hidden layer puts them."""
    points = features(model, images)
    return tsne(points, on_progress=on_progress) if method == "tsne" else pca(points)


def thumbnail(image, scale=2):
    """A small PNG of one image as a data: URL (what a chart's tooltip shows)."""
    from PIL import Image

    pixels = np.asarray(image, np.uint8).squeeze()
    buffer = io.BytesIO()
    Image.fromarray(inspection.upscale(pixels, scale)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def separation(points, labels):
    """Mean silhouette of the points grouped by label, in [-1, 1]: higher when classes sit apart (Euclidean)."""
    points, labels = np.asarray(points, np.float64), np.asarray(labels)
    distances = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    scores = []
    for i, label in enumerate(labels):
        same = labels == label
        same[i] = False
        if not same.any():
            continue
        own = distances[i, same].mean()
        other = min(distances[i, labels == k].mean() for k in np.unique(labels) if k != label)
        scores.append((other - own) / max(own, other, 1e-12))
    return float(np.mean(scores))


# ---------------------------------------------------------------- how it learned

def filters_at(timeline, epoch, scale=14):
    """The first conv layer's filters at an epoch (0 = before training) as one uint8 image."""
    return inspection.kernel_grid(timeline["filters"][epoch], scale)[0]


def maps_at(timeline, epoch, size=64):
    """The fixed test image's first-layer feature maps at an epoch as one uint8 image (viridis tiles)."""
    return inspection.feature_map_grid(np.asarray(timeline["maps"][epoch], np.float32) / 255.0, columns=8, size=size)


def weight_rows(timeline):
    """Rows (epoch, layer, spread, update) for a chart: how each layer's weights spread and moved, epoch by epoch."""
    rows = []
    for epoch, (spreads, updates) in enumerate(zip(timeline["spread"], timeline["update"])):
        for layer, spread, update in zip(timeline["layers"], spreads, updates):
            rows.append({"epoch": epoch, "layer": str(layer), "spread": float(spread),
                         "update": float(update) if epoch else None})
    return rows


def histogram_rows(timeline, epoch):
    """Rows (layer, low, high, count) of each layer's weight histogram at an epoch."""
    rows = []
    for layer, counts, edges in zip(timeline["layers"], timeline["counts"][epoch], timeline["edges"][epoch]):
        for count, low, high in zip(counts, edges[:-1], edges[1:]):
            rows.append({"layer": str(layer), "low": float(low), "high": float(high), "count": int(count)})
    return rows
