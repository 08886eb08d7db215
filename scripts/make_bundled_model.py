"""Train the model that ships in models/ and write it with its manifest (how it was trained, what it scores).

    python scripts/make_bundled_model.py [--epochs N] [--architecture NAME]

It uses cnnlab's own train() and data (whatever source `python -m cnnlab data` reports; offline,
the bundled MNIST sample) with augmentation, then measures the model on MNIST's test split and on
digits drawn by hands and fonts it never saw (bench/drawings.py). Files are written atomically.
"""

import argparse
import datetime
import hashlib
import json
import os
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402

from bench import drawings  # noqa: E402
from cnnlab import training  # noqa: E402
from cnnlab.data import datasets
from cnnlab.insight import drawing


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="keras_tutorial")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-augment", action="store_true", help="for comparison: train without augmentation")
    parser.add_argument("--out", default=str(ROOT / "models"))
    args = parser.parse_args()

    config = training.TrainConfig(dataset="mnist", architecture=args.architecture, epochs=args.epochs,
                                  batch_size=args.batch_size, augment=not args.no_augment)
    data = datasets.load("mnist")
    result = training.train(config, dataset=data,
                            on_epoch_end=lambda e, logs: print(f"epoch {e + 1}: {logs}", flush=True))
    strokes = drawings.stroke_digits()
    fonts = drawings.font_digits()
    stroke_accuracy, _ = drawings.accuracy(result.model, *strokes[:2])
    font_accuracy, _ = drawings.accuracy(result.model, fonts[0], fonts[1]) if len(fonts[0]) else (None, None)
    scores = {"test_accuracy": round(result.test_accuracy, 4), "test_images": int(len(result.y_test)),
              "stroke_drawings_accuracy": round(stroke_accuracy, 4), "stroke_drawings": int(len(strokes[1])),
              "font_digits_accuracy": None if font_accuracy is None else round(font_accuracy, 4),
              "font_digits": int(len(fonts[1]))}
    print(json.dumps(scores))
    if args.no_augment:
        return

    out = pathlib.Path(args.out)
    folder = out / drawing.BUNDLED
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "model.weights.h5"
    tmp = folder / "tmp.weights.h5"
    result.model.save_weights(tmp)
    os.replace(tmp, weights)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[drawing.BUNDLED] = {
        "title": "MNIST digits for the Draw page (augmented)",
        "weights": "model.weights.h5",
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "config": config.to_dict(),
        "command": "python scripts/make_bundled_model.py " + " ".join(sys.argv[1:]),
        "data_source": data.source.label,
        "train_images": result.sizes["train"],
        "train_seconds": round(result.train_seconds, 1),
        "device": result.device,
        "params": int(result.model.count_params()),
        "made": datetime.date.today().isoformat(),
        "keras": keras.__version__,
        **scores,
    }
    with tempfile.NamedTemporaryFile("w", dir=out, delete=False, suffix=".tmp") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")
    os.replace(handle.name, manifest_path)
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB) and {manifest_path}")


if __name__ == "__main__":
    main()
