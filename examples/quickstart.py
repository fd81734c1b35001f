"""Train a small PyTorch model on synthetic data, log it to the local store, then show what was recorded.

    python examples/quickstart.py [--epochs 5] [--dir tracker_runs]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import tracker_core as tracker


def make_data(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 8, generator=generator)
    y = (x[:, :4].sum(dim=1, keepdim=True) - x[:, 4:].prod(dim=1, keepdim=True)).tanh()
    return x, y


def train(args: argparse.Namespace) -> tracker.Run:
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    x_train, y_train = make_data(2048, generator)
    x_val, y_val = make_data(512, generator)
    model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps_per_epoch = len(x_train) // args.batch_size
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * steps_per_epoch)

    run = tracker.init(project="quickstart", dir=args.dir, name=f"mlp_lr{args.lr:g}", tags=["example"],
                       config={"lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs,
                               "seed": args.seed, "model": {"hidden": 64, "layers": 3}})
    run.define_metric("val/loss", step_metric="epoch", summary="min", goal="minimize")
    step = 0
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for batch in order.split(args.batch_size):
            loss = nn.functional.mse_loss(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            run.log({"train/loss": loss.detach(), "train/lr": scheduler.get_last_lr()[0]}, step=step)
            step += 1
        model.eval()
        with torch.no_grad():
            val_loss = nn.functional.mse_loss(model(x_val), y_val).item()
        run.log({"val/loss": val_loss, "epoch": epoch})
    run.summary["final_val_loss"] = val_loss
    run.finish()
    return run


def show(run_path: str, root: str) -> None:
    stored = tracker.Api(root).run(run_path)
    history = stored.history()
    train = [row["train/loss"] for row in history if "train/loss" in row]
    val = [(row["epoch"], row["val/loss"]) for row in history if "val/loss" in row]
    print(f"\nRun {stored.path}  name={stored.name}  status={stored.status}  ({len(history)} rows)")
    print(f"  stored in {stored.dir}")
    print(f"  config   {stored.config}")
    print(f"  train/loss  first {train[0]:.4f}  last {train[-1]:.4f}  over {len(train)} steps")
    for epoch, loss in val:
        print(f"  epoch {epoch}  val/loss {loss:.4f}  " + "#" * max(1, int(60 * loss / val[0][1])))
    print(f"  summary  best val/loss {stored.summary['val/loss']:.4f}, final {stored.summary['final_val_loss']:.4f}")
    git = (stored.provenance or {}).get("git")
    print(f"  produced by {' '.join((stored.provenance or {}).get('command', [])[1:])}"
          + (f" at git {git['commit'][:10]}{' (dirty)' if git['dirty'] else ''}" if git else ""))
    print(f"\nMore: `tracker show {stored.id}`, `tracker runs -p quickstart`, `tracker best val/loss -p quickstart`"
          " (the command is in .venv/bin)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None, help="store root (default: TRACKER_DIR or ./tracker_runs)")
    args = parser.parse_args()
    run = train(args)
    show(run.path, args.dir)


if __name__ == "__main__":
    main()
