"""The console's recommendation page, ``/ui/recommendation/``: look a user up (what they liked,
and their top 10 with the reason for each), or try a profile text for a cold-start user.

It asks the same loader of the active recommender as the JSON API
(:func:`plugins.recommendation.routes.active_recommender`): one model in memory, reloaded when
another version becomes active. Both forms are GETs: nothing changes, and a result is a link.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core import SuiteError, UnknownNameError, UsageError
from core.console import ConsolePage, SignedIn, render
from core.streams import clean_text
from plugins.recommendation.routes import NoModelYet, active_recommender

if TYPE_CHECKING:
    from core import Suite
    from plugins.recommendation.recommender import Recommender

NAME = "recommendation"
TEMPLATES = Path(__file__).parent / "templates"
TOP_K = 10
HISTORY_SHOWN = 20  # a user's latest likes shown
USERS_SUGGESTED = 200  # user ids offered as you type
MAX_PROFILE_CHARS = 2000


def console_page(suite: Suite) -> ConsolePage:
    router = APIRouter()
    loader = active_recommender(suite)

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request, user: SignedIn, user_id: Annotated[str, Query(alias="user", max_length=200)] = "",
             profile: Annotated[str, Query(max_length=MAX_PROFILE_CHARS)] = "") -> HTMLResponse:
        user_id, shown = user_id.strip(), {"user_id": user_id.strip(), "profile": profile}
        try:
            version, recommender = loader.get()
        except NoModelYet:
            return render(request, f"{NAME}/home.html", user=user, title="Recommendation", no_model=True, **shown)
        except SuiteError as exc:
            return render(request, f"{NAME}/home.html", status=503, user=user, title="Recommendation", **shown,
                          error=f"The recommendation model cannot be loaded: {exc}")
        context: dict[str, Any] = {"version": version, "users": _some_users(recommender), **shown}
        status = 200
        try:
            if user_id:
                context.update(_for_user(recommender, user_id))
            elif profile.strip():
                if clean_text(profile) != profile:
                    raise UsageError("the profile holds a control character such as NUL: type plain text")
                context["recommendations"] = recommender.recommend(liked=[], profile=profile, k=TOP_K)
                context["for_profile"] = True
        except UnknownNameError as exc:
            status, context["error"] = 404, str(exc)
        except UsageError as exc:
            status, context["error"] = 422, str(exc)
        return render(request, f"{NAME}/home.html", status=status, user=user, title="Recommendation", **context)

    return ConsolePage(NAME, "Recommendation", router, templates=TEMPLATES, order=40)


def _for_user(recommender: Recommender, user_id: str) -> dict[str, Any]:
    """A known user's history (their latest likes, newest first) and top ``TOP_K``, as the
    JSON API's ``GET /v1/recommendation/users/{id}`` ranks them."""
    liked = recommender.history_of(user_id)  # UnknownNameError for a user the model does not know
    profile = recommender.profiles.get(user_id, "")
    touched = recommender.behaviour.interacted.get(user_id, set())
    recommendations = (recommender.recommend(liked=liked, profile=profile, k=TOP_K, exclude=touched)
                       if liked or profile.strip() else [])
    history = [recommender.items[i] for i in reversed(liked[-HISTORY_SHOWN:]) if i in recommender.items]
    return {"for_user": user_id, "user_profile": profile, "history": history, "likes": len(liked),
            "touched": len(touched), "recommendations": recommendations}


def _some_users(recommender: Recommender) -> list[str]:
    """User ids to suggest in the form: a bounded sample, never the whole user base."""
    users = set(islice(recommender.behaviour.liked, USERS_SUGGESTED)) | set(islice(recommender.profiles, USERS_SUGGESTED))
    return sorted(users)[:USERS_SUGGESTED]
