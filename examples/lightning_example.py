"""Train a small LightningModule on synthetic data with ``TrackerLogger``, then show what was recorded.

Checkpoints are kept by ``ModelCheckpoint`` and logged as a model artifact, gradients are watched, a
table of validation predictions is logged, and ``trainer.test()`` after ``fit()`` lands in the same run.

    python examples/lightning_example.py [--epochs 3] [--dir tracker_runs]
"""

from __future__ import annotations

import argparse

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tracker_core as tracker
from integrations.lightning import TrackerLogger


class Regressor(pl.LightningModule):
    def __init__(self, lr: float = 3e-3, hidden: int = 64) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=True)  # train/loss_step and train/loss_epoch
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        prediction = self.net(x)
        self.log("val/loss", nn.functional.mse_loss(prediction, y))
        if batch_idx == 0 and isinstance(self.logger, TrackerLogger):
            rows = [[float(t), float(p)] for t, p in zip(y[:8, 0], prediction[:8, 0], strict=True)]
            self.logger.log_table("val/predictions", columns=["target", "prediction"], data=rows)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self.log("test/loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)


def data(n: int, seed: int, shuffle: bool = False) -> DataLoader[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=generator)
    y = (x[:, :4].sum(dim=1, keepdim=True) - x[:, 4:].prod(dim=1, keepdim=True)).tanh()
    return DataLoader(TensorDataset(x, y), batch_size=64, shuffle=shuffle, generator=generator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dir", default="tracker_runs")
    args = parser.parse_args()
    pl.seed_everything(0, verbose=False)

    model = Regressor()
    logger = TrackerLogger(project="lightning_example", name="regressor", tags=["example"], save_dir=args.dir,
                           log_model=True)
    logger.watch(model, log="all", log_freq=50)
    trainer = pl.Trainer(logger=logger, max_epochs=args.epochs, log_every_n_steps=10, enable_progress_bar=False,
                         callbacks=[ModelCheckpoint(monitor="val/loss", save_top_k=2)])
    trainer.fit(model, data(2048, seed=1, shuffle=True), data(512, seed=2))
    trainer.test(model, data(512, seed=3))
    run = logger.experiment
    run.finish()

    stored = tracker.Api(args.dir).run(run.path)
    print(f"\nrun {stored.name} ({stored.id}): {stored.status}, in {stored.dir}")
    print("summary:", {key: value for key, value in stored.summary.items() if not key.startswith("gradients/")
                       and not key.startswith("parameters/")})
    for artifact in stored.logged_artifacts():
        print(f"artifact {artifact.name}:v{artifact.version} aliases={artifact.aliases} "
              f"score={artifact.metadata['score']:.4f} ({artifact.metadata['original_filename']})")


if __name__ == "__main__":
    main()
