"""The operations console at ``/ui``: server-rendered pages for the people who run the scenarios.

Jinja2 templates, one stylesheet and a few lines of plain JavaScript, all installed with the
package (nothing from a CDN). Sign-in is with an API key; its role (viewer, operator, admin)
decides what a person may change, exactly as on the JSON API. A plugin adds pages through the
``register_ui`` hook with a :class:`ConsolePage`::

    @hookimpl
    def register_ui(register, suite):
        router = APIRouter()

        @router.get("/")
        def home(request: Request, user: SignedIn):
            return render(request, "myplugin/home.html", title="Mine", rows=...)

        register(ConsolePage("myplugin", "My plugin", router, templates=Path(__file__).parent / "templates"))
"""

from core.console.auth import Operator, SignedIn, User, check_csrf, requires_role
from core.console.charts import line_chart
from core.console.pages import ConsolePage, audit, forbidden, redirect, render

__all__ = [
    "ConsolePage",
    "Operator",
    "SignedIn",
    "User",
    "audit",
    "check_csrf",
    "forbidden",
    "line_chart",
    "redirect",
    "render",
    "requires_role",
]
