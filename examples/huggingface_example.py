"""Train a tiny GPT-2 (built from a config, no downloads) with ``report_to="tracker"``, evaluate it, show the run.

    python examples/huggingface_example.py [--steps 60] [--dir tracker_runs] [--log-model checkpoint]

The data are synthetic token ids that count upwards (7, 8, 9, ... modulo the vocabulary), so the
loss falls quickly. Needs the ``huggingface`` extra: ``pip install -e ".[huggingface]"``.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

import tracker_core as tracker  # to show the run; report_to="tracker" needs no import (the installed start-up hook)

VOCAB, LENGTH = 64, 16


class CountingSequences(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Token ids ``start, start + 1, ...`` modulo the vocabulary, as input and label."""

    def __init__(self, size: int, seed: int) -> None:
        starts = torch.randint(0, VOCAB, (size, 1), generator=torch.Generator().manual_seed(seed))
        self.ids = (starts + torch.arange(LENGTH)) % VOCAB

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[index], "labels": self.ids[index]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--dir", default=None, help="store root (default: TRACKER_DIR, else ./tracker_runs)")
    parser.add_argument("--log-model", default="false", choices=["false", "checkpoint", "end"])
    options = parser.parse_args()
    if options.dir:
        os.environ["TRACKER_DIR"] = options.dir
    os.environ["TRACKER_LOG_MODEL"] = options.log_model  # read when the Trainer builds the callback

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=VOCAB, n_positions=LENGTH,
                        bos_token_id=0, eos_token_id=0)
    with tempfile.TemporaryDirectory(prefix="hf-example-") as output_dir:
        args = TrainingArguments(
            output_dir=output_dir, report_to="tracker", project="huggingface_example", run_name="tiny_gpt2",
            max_steps=options.steps, learning_rate=3e-3, per_device_train_batch_size=16, logging_steps=10,
            eval_strategy="steps", eval_steps=20, save_strategy="steps" if options.log_model == "checkpoint" else "no",
            save_steps=20, use_cpu=True, disable_tqdm=True)
        trainer = Trainer(model=GPT2LMHeadModel(config), args=args, train_dataset=CountingSequences(512, seed=0),
                          eval_dataset=CountingSequences(64, seed=1))
        trainer.train()
        metrics = trainer.evaluate()

    run = tracker.run
    assert run is not None
    print(f"\nevaluation loss {metrics['eval_loss']:.3f}; run {run.name} ({run.id}) in {run.dir}")
    run.finish()
    stored = tracker.Api().run(run.path)
    print(f"status: {stored.status}")
    for key in ("train/loss", "eval/loss", "train/global_step", "train_runtime", "train_loss"):
        print(f"  summary[{key!r}] = {stored.summary.get(key)}")
    print(f"artifacts: {[artifact.ref for artifact in stored.logged_artifacts()]}")
    print(f"read it back: tracker show {run.id}" + (f" --dir {options.dir}" if options.dir else ""))


if __name__ == "__main__":
    main()
