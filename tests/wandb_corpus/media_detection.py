"""Object detection as W&B's docs log it: boxes in fractions and in pixels, with class ids, scores
and captions, as dicts and as BoundingBoxes2D; a list of sample images with captions; a Table of
images with boxes."""

import numpy as np
import wandb

class_id_to_label = {1: "car", 2: "person", 3: "traffic light"}

run = wandb.init(project="corpus-detection")


def boxes_for(step):
    return [
        {"position": {"minX": 0.1, "maxX": 0.4, "minY": 0.2, "maxY": 0.5}, "class_id": 1,
         "box_caption": f"car {0.9 - step / 10:.2f}", "scores": {"confidence": 0.9 - step / 10, "iou": 0.7}},
        {"position": {"middle": [60, 30], "width": 20, "height": 40}, "domain": "pixel", "class_id": 2,
         "box_caption": "person", "scores": {"confidence": 0.8}},
    ]


table = wandb.Table(columns=["image", "num_boxes"])
for step in range(2):
    scene = np.full((64, 96, 3), 40 * (step + 1), dtype=np.uint8)
    image = wandb.Image(scene, boxes={
        "predictions": {"box_data": boxes_for(step), "class_labels": class_id_to_label},
        "ground_truth": wandb.BoundingBoxes2D({"box_data": [
            {"position": {"minX": 0.12, "maxX": 0.38, "minY": 0.22, "maxY": 0.52}, "class_id": 1},
            # a box from a broken annotation file: no maxY
            {"position": {"minX": 0.5, "maxX": 0.9, "minY": 0.1}, "class_id": 3},
        ], "class_labels": class_id_to_label}, "ground_truth"),
    })
    wandb.log({"detections": image})
    table.add_data(image, len(boxes_for(step)))

samples = [np.full((16, 16), value, dtype=np.float32) for value in (0.0, 0.25, 0.5, 1.0)]
samples[2] = np.log(samples[2] - 1.0)  # a diverged sample: NaN pixels
predictions, truths = [1, 2, 3, 1], [1, 2, 1, 1]
wandb.log({"examples": [wandb.Image(sample, caption=f"Pred: {p} Truth: {t}")
                        for sample, p, t in zip(samples, predictions, truths, strict=True)]})
wandb.log({"detections_table": table})
run.finish()
