"""W&B's PyTorch guide: wandb.watch(model, criterion, "all", 10) with positional arguments, then a plain
training loop that logs the loss every batch."""

import torch
import wandb

torch.manual_seed(0)
config = {"learning_rate": 0.05, "batches": 30}
run = wandb.init(project="corpus-runs-watch", config=config)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
criterion = torch.nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=wandb.config.learning_rate)
wandb.watch(model, criterion, "all", 10)

inputs = torch.randn(64, 8)
targets = inputs.sum(dim=1, keepdim=True)
for batch in range(wandb.config.batches):
    optimizer.zero_grad()
    loss = criterion(model(inputs), targets)
    loss.backward()
    optimizer.step()
    wandb.log({"loss": loss.item(), "batch": batch})
wandb.finish()
