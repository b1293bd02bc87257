"""The core's built-in task heads."""

from core.heads.classification import SequenceClassificationHead
from core.heads.embedding import EmbeddingHead
from core.heads.pair import PairScoringHead
from core.heads.token import TokenClassificationHead
from core.hookspecs import hookimpl


@hookimpl
def register_task_heads(register):
    register(SequenceClassificationHead)
    register(TokenClassificationHead)
    register(PairScoringHead)
    register(EmbeddingHead)
