"""Training and fine-tuning SAM 2 on (image stack, label stack) pairs, and the bundled demo model's recipe."""

from .trainer import TrainConfig, finetune, save_checkpoint

__all__ = ["TrainConfig", "finetune", "save_checkpoint"]
