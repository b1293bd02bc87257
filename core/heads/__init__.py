"""Task heads: the layers and loss a scenario puts on top of a pretrained encoder."""

from __future__ import annotations

from typing import ClassVar


class TaskHead:
    """Base of every task head (sequence, token and pair classification, embeddings, ...).

    A head is registered as a class through ``register_task_heads``; its ``name`` is saved
    with each model that uses it, so loading a model finds the same head again.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
