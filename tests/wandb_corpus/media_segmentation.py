"""Semantic segmentation as W&B's docs log it: frames read from JPEG files, ground-truth and predicted
masks with class labels, a Classes set, and a Table of the results at the end."""

import numpy as np
import wandb
from PIL import Image as PILImage

class_labels = {0: "background", 1: "road", 2: "car", 3: "person"}
class_set = wandb.Classes([{"id": class_id, "name": name} for class_id, name in class_labels.items()])


def ground_truth(height, width):
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[height // 2:, :] = 1
    mask[4:12, 8:20] = 2
    mask[20:30, 30:40] = 3
    return mask


run = wandb.init(project="corpus-segmentation", config={"model": "unet", "num_classes": len(class_labels)})
rng = np.random.default_rng(7)
table = wandb.Table(columns=["id", "frame", "pixel_accuracy"])
for step in range(3):
    frame = rng.integers(0, 256, size=(32, 48, 3), dtype=np.uint8)
    PILImage.fromarray(frame).save(f"frame_{step}.jpg", quality=90)
    truth = ground_truth(32, 48)
    prediction = np.roll(truth, shift=step, axis=1)
    masked = wandb.Image(
        f"frame_{step}.jpg",
        caption=f"frame {step}",
        masks={
            "ground_truth": {"mask_data": truth, "class_labels": class_labels},
            "predictions": wandb.ImageMask({"mask_data": prediction, "class_labels": class_labels},
                                           key="predictions"),
        },
        classes=class_set,
    )
    accuracy = float((prediction == truth).mean())
    wandb.log({"segmentation": masked, "val/pixel_accuracy": accuracy})
    table.add_data(step, masked, accuracy)

wandb.log({"predictions_table": table})
run.finish()
