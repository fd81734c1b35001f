"""Framework adapters (PyTorch Lightning, Hugging Face Transformers, Keras); each imports its framework lazily."""
