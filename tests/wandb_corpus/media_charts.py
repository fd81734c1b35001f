"""Charts and pictures as W&B's examples log them: `wandb.log({"chart": plt})`, a Figure, PIL images,
images made from a normalised tensor-like array, and a list of images with captions."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import wandb
from PIL import Image as PILImage

run = wandb.init(project="corpus-charts")
epochs = np.arange(10)
plt.figure(figsize=(4, 3), dpi=50)
plt.plot(epochs, np.exp(-epochs / 3), label="loss")
plt.legend()
wandb.log({"chart": plt})

fig, ax = plt.subplots(figsize=(3, 3), dpi=40)
ax.imshow(np.eye(3), cmap="Blues")
ax.set_title("confusion matrix")
wandb.log({"confusion_matrix": wandb.Image(fig, caption="epoch 9")})

gradient = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (16, 1))
pil_image = PILImage.fromarray(gradient, mode="L")
normalised = np.linspace(-1.0, 1.0, 3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)  # CHW in [-1, 1]
wandb.log({"inputs": [wandb.Image(pil_image, caption="gradient"),
                      wandb.Image(normalised, caption="normalised"),
                      wandb.Image(pil_image.convert("RGB"), caption="rgb")]})
run.finish()
