"""HTML for people without an API key, on one page layout: the public link pages (``/u/``,
``/c/``) and the auditor's pages (``/audit``), mounted on the app as one router."""

from litestar import Router

from .auditor import AUDITOR_PAGES
from .links import LINK_PAGES

PAGES = Router("/", route_handlers=[LINK_PAGES, AUDITOR_PAGES])
