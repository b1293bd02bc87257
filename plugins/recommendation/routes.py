"""HTTP: ``GET /v1/recommendation/users/{user_id}?k=10`` and ``POST /v1/recommendation``
(an ad-hoc history: liked item ids and/or a profile).

The recommender is loaded on the first request and again when another version of the model
becomes active in the registry (``suite models activate``), so ``suite serve`` starts fast and
picks up retrained models without a restart; :func:`active_recommender` is the one loader of a
suite, shared with the console's page (``console.py``). Handlers are plain functions: FastAPI
runs them in its thread pool, off the event loop.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Annotated, Optional

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints

from core import SuiteError, UnknownNameError, UsageError
from core.serving.schemas import Explanation

if TYPE_CHECKING:
    from core import Suite
    from plugins.recommendation.recommender import Recommender

PREFIX = "/v1/recommendation"
MAX_K = 100
ItemId = Annotated[StrictStr, StringConstraints(min_length=1, max_length=200)]


class HistoryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"liked": ["B061", "B065"], "k": 5},
        {"profile": "Weekend baker who loves sourdough", "k": 10},
        {"liked": ["B011"], "candidates": ["B012", "B013", "B021"], "k": 2},
        {"liked": ["B061"], "boost": {"cooking": 2.0}, "exclude": ["B062"]},
    ]})
    liked: list[ItemId] = Field(default_factory=list, max_length=1000, description="Item ids the user liked, oldest first.")
    profile: Annotated[StrictStr, StringConstraints(max_length=2000)] = Field("", description="A few words about the user's interests.")
    k: int = Field(10, ge=1, le=MAX_K, description="How many items to return.")
    candidates: Optional[list[ItemId]] = Field(None, max_length=5000, description="Rank only these items (default: the catalogue).")
    exclude: list[ItemId] = Field(default_factory=list, max_length=5000, description="Items never to return (besides the liked ones).")
    boost: dict[Annotated[StrictStr, StringConstraints(min_length=1, max_length=100)], float] = Field(
        default_factory=dict, max_length=100, description="Business rule: tag -> weight added to the score of items with that tag.")
    explain: bool = Field(False, description="Also return the words of each item's text behind its interest score.")


class Recommended(BaseModel):
    item: str
    title: str
    score: float = Field(description="The ranker's score (higher first).")
    interest: float = Field(description="The interest model's logit for this user and item.")
    because: str = Field(description='Why: "because you liked X", or "matches your profile".')
    explanation: Optional[list[Explanation]] = Field(None, description="With explain: words of the item's text behind its interest.")


class RecommendationResponse(BaseModel):
    user: Optional[str]
    model_version: int
    recommendations: list[Recommended]


NO_MODEL = ("no recommendation model is trained yet; train one with: "
            "suite train recommendation --items ITEMS --interactions INTERACTIONS [--users PROFILES]")


class NoModelYet(UsageError):
    """No recommendation model is registered yet."""


class ActiveRecommender:
    """The active model's recommender, reloaded when the active version changes."""

    def __init__(self, suite: Suite) -> None:
        self._suite = weakref.ref(suite)  # held weakly: the suite keys the shared loaders (below)
        self.lock = threading.Lock()
        self.version: int | None = None
        self.recommender: Recommender | None = None

    @property
    def suite(self) -> Suite:
        suite = self._suite()
        if suite is None:
            raise RuntimeError("the suite of this recommender loader is gone")
        return suite

    def get(self) -> tuple[int, Recommender]:
        """(version, recommender); :class:`NoModelYet` before one is trained, another
        :class:`SuiteError` when it cannot be loaded."""
        from pathlib import Path

        from plugins.recommendation.recommender import Recommender

        scenario = self.suite.scenarios.get("recommendation")
        with self.lock:
            try:
                entry = self.suite.store.get_model("recommendation")
            except UnknownNameError:
                raise NoModelYet(NO_MODEL) from None
            if self.recommender is None or entry.version != self.version:
                folder = Path(entry.path)
                self.recommender = Recommender.load(folder, scenario.predictor(self.suite, str(folder)))
                self.version = entry.version
            return self.version, self.recommender


_loaders: weakref.WeakKeyDictionary[Suite, ActiveRecommender] = weakref.WeakKeyDictionary()
_loaders_lock = threading.Lock()


def active_recommender(suite: Suite) -> ActiveRecommender:
    """The suite's one loader of the active recommender (the JSON API and the console share it,
    so the model is in memory once)."""
    with _loaders_lock:
        loader = _loaders.get(suite)
        if loader is None:
            loader = _loaders[suite] = ActiveRecommender(suite)
        return loader


def _loaded(loader: ActiveRecommender) -> tuple[int, Recommender]:
    try:
        return loader.get()
    except SuiteError as exc:
        raise HTTPException(503, detail=f"recommendation unavailable: {exc}") from None


def build_router(suite: Suite) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["recommendation"])
    loader = active_recommender(suite)

    @router.get("/users/{user_id}", response_model=RecommendationResponse, summary="Recommendations for a known user",
                responses={404: {"description": "Unknown user"}})
    def for_user(user_id: str, k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
                 explain: Annotated[bool, Query(description="Add the words behind each item.")] = False) -> RecommendationResponse:
        """Top ``k`` for a user the model knows (interactions or profile), seen items excluded."""
        version, recommender = _loaded(loader)
        try:
            liked = recommender.history_of(user_id)
        except UnknownNameError as exc:
            raise HTTPException(404, detail=str(exc)) from None
        recs = recommender.recommend(liked=liked, profile=recommender.profiles.get(user_id, ""), k=k,
                                     exclude=recommender.behaviour.interacted.get(user_id, ()), explain=explain)
        return RecommendationResponse(user=user_id, model_version=version, recommendations=[r.as_dict() for r in recs])

    @router.post("", response_model=RecommendationResponse, summary="Recommendations for an ad-hoc history",
                 responses={404: {"description": "An item id not in the catalogue"}})
    def for_history(body: HistoryRequest) -> RecommendationResponse:
        """Top ``k`` for liked item ids and/or a profile: new users, anonymous sessions, what-ifs."""
        version, recommender = _loaded(loader)
        try:
            recs = recommender.recommend(liked=body.liked, profile=body.profile, k=body.k, exclude=body.exclude,
                                         candidates=body.candidates, boost=body.boost, explain=body.explain)
        except UnknownNameError as exc:
            raise HTTPException(404, detail=str(exc)) from None
        except UsageError as exc:
            raise HTTPException(422, detail=str(exc)) from None
        return RecommendationResponse(user=None, model_version=version, recommendations=[r.as_dict() for r in recs])

    return router
