"""A Lightning script written for WandbLogger (Lightning's docs and W&B's Lightning guide), with only the
logger class swapped for TrackerLogger: log_hyperparams, watch(model, "all", 10), log_image with file
paths and captions, log_table, and self.log metrics."""

import lightning.pytorch as pl
import numpy as np
import torch
import wandb
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from integrations.lightning import TrackerLogger


class Regressor(pl.LightningModule):
    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


torch.manual_seed(0)
x = torch.randn(80, 4)
data = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=8)
for name, color in (("tree.png", (0, 160, 0)), ("person.png", (200, 120, 90))):
    Image.fromarray(np.full((16, 16, 3), color, dtype=np.uint8)).save(name)

wandb_logger = TrackerLogger(project="corpus-runs-lightning", log_model=False)
wandb_logger.log_hyperparams({"batch_size": 8, "dataset": "synthetic"})
model = Regressor()
wandb_logger.watch(model, "all", 10)
trainer = pl.Trainer(max_epochs=2, logger=wandb_logger, log_every_n_steps=1, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False)
trainer.fit(model, data, data)
wandb_logger.log_image(key="samples", images=["tree.png", "person.png"], caption=["tree", "person"])
wandb_logger.log_table(key="predictions", columns=["input_sum", "prediction"],
                       data=[[float(x[i].sum()), float(model.net(x[i:i + 1]).item())] for i in range(3)])
wandb_logger.experiment.config.update({"trained_epochs": trainer.current_epoch})
print("RUN", wandb_logger.experiment.path, wandb_logger.version)
wandb.finish()
