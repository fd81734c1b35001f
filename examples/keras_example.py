"""Train a small Keras 3 classifier on synthetic data with ``TrackerCallback``, evaluate it, log an image.

    KERAS_BACKEND=torch python examples/keras_example.py [--epochs 5] [--dir tracker_runs]

Keras picks its backend when it is first imported: the command above sets it in the shell (the
tracker never sets it; without it Keras tries TensorFlow). Needs ``pip install -e ".[keras,torch]"``.
"""

from __future__ import annotations

import argparse

import numpy as np

import tracker_core as tracker
from integrations.keras import TrackerCallback  # imports Keras, or says how to choose its backend

CLASSES = 3


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three overlapping Gaussian blobs in 8 dimensions."""
    y = rng.integers(0, CLASSES, n)
    centres = rng.normal(scale=1.5, size=(CLASSES, 8))
    return (centres[y] + rng.normal(size=(n, 8))).astype("float32"), y


def confusion_image(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The confusion matrix as a grayscale image (rows: true class, columns: predicted), 32 pixels a cell."""
    counts = np.zeros((CLASSES, CLASSES))
    np.add.at(counts, (y_true, y_pred), 1)
    shades = (255 * counts / counts.sum(axis=1, keepdims=True)).astype("uint8")
    return np.kron(shades, np.ones((32, 32), dtype="uint8"))


def train(args: argparse.Namespace) -> tracker.Run:
    import keras  # already imported, with its backend, by integrations.keras

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, y = make_data(3000, rng)
    x_train, y_train, x_test, y_test = x[:2400], y[:2400], x[2400:], y[2400:]
    model = keras.Sequential([keras.layers.Input((8,)), keras.layers.Dense(32, activation="relu", name="hidden"),
                              keras.layers.Dense(CLASSES, activation="softmax", name="out")], name="blobs")
    steps = args.epochs * int(np.ceil(0.8 * len(x_train) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    run = tracker.init(project="keras-example", dir=args.dir, tags=["example"], config={"seed": args.seed})
    model.fit(x_train, y_train, validation_split=0.2, epochs=args.epochs, batch_size=args.batch_size, verbose=0,
              callbacks=[TrackerCallback(log_freq=10, log_model=True)])
    model.evaluate(x_test, y_test, verbose=0, callbacks=[TrackerCallback()])  # eval/* in the same run
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    run.log({"eval/confusion_matrix": tracker.Image(confusion_image(y_test, predicted),
                                                    caption="rows: true class, columns: predicted")})
    run.finish()
    return run


def show(run_path: str, root: str | None) -> None:
    api = tracker.Api(root)
    stored = api.run(run_path)
    print(f"\nRun {stored.path}  status={stored.status}\n  stored in {stored.dir}")
    for row in stored.history(keys=["train/loss", "val/loss", "val/accuracy", "train/learning_rate"], x="epoch"):
        print(f"  epoch {row['epoch']}  train/loss {row['train/loss']:.4f}  val/loss {row['val/loss']:.4f}  "
              f"val/accuracy {row['val/accuracy']:.3f}  lr {row['train/learning_rate']:.2e}")
    batch_rows = stored.history(keys=["batch/loss"], x="batch_step")
    print(f"  {len(batch_rows)} batch rows (every 10th batch), last batch_step {batch_rows[-1]['batch_step']}")
    summary = stored.summary
    print(f"  summary  eval/loss {summary['eval/loss']:.4f}  eval/accuracy {summary['eval/accuracy']:.3f}  "
          f"image {summary['eval/confusion_matrix'].path}")
    keras_config = stored.config["keras"]
    print(f"  config   optimizer {keras_config['optimizer']['name']}, loss {keras_config['loss']}, "
          f"{keras_config['parameters']['trainable']} trainable parameters, fit {keras_config['fit']}")
    for version in api.artifacts(f"model-{stored.id}"):
        aliases = ", ".join(version.aliases) or "-"
        print(f"  artifact {version.ref}  aliases {aliases}  epoch {version.metadata['epoch']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None, help="store root (default: TRACKER_DIR or ./tracker_runs)")
    args = parser.parse_args()
    run = train(args)
    show(run.path, args.dir)


if __name__ == "__main__":
    main()
