"""The fine-tuning engine: a thin ``transformers.Trainer`` subclass driven by a task head.

``core.training.engine`` (``fine_tune``) imports transformers; this package itself stays light
so the CLI starts fast.
"""

from core.training.config import TrainConfig

__all__ = ["TrainConfig"]
