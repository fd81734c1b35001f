"""A tiny LightningModule on synthetic data, shared by the Lightning tests and their child scripts."""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


class Tiny(pl.LightningModule):
    """Linear regression; ``fail_at``/``interrupt_at`` raise at that global step, ``sleep`` slows each step
    down and prints ``STEP <n>`` so a test can signal the process mid-training, ``watch`` watches the
    gradients through the logger when fit starts."""

    def __init__(self, lr: float = 0.05, marker: float = 0.0, fail_at: int = -1, interrupt_at: int = -1,
                 sleep: float = 0.0, watch: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(4, 1)

    def on_fit_start(self) -> None:
        if self.hparams.watch:
            self.logger.watch(self, log_freq=1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.global_step == self.hparams.fail_at:
            raise RuntimeError("boom in training_step")
        if self.global_step == self.hparams.interrupt_at:
            raise KeyboardInterrupt
        if self.hparams.sleep:
            print(f"STEP {self.global_step}", flush=True)
            time.sleep(self.hparams.sleep)
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=True)
        self.log("marker", self.hparams.marker)
        self.log("rank", float(self.global_rank))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.net(x), y))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test/loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader(samples: int = 32, batch_size: int = 8) -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(samples, 4, generator=generator)
    return DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=batch_size)


def trainer(**options: Any) -> pl.Trainer:
    """A quiet CPU trainer: logs every step, 2 epochs unless told."""
    defaults: dict[str, Any] = {"max_epochs": 2, "log_every_n_steps": 1, "enable_progress_bar": False,
                                "enable_model_summary": False, "accelerator": "cpu", "devices": 1}
    return pl.Trainer(**{**defaults, **options})
