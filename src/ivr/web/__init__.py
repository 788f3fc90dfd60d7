"""The web consoles: listeners, referents, national support and admins (French pages)."""

from ivr.web.accounts import AccountError, create_account
from ivr.web.deps import ConsoleDeps
from ivr.web.http import STATIC_DIR, build_console_router

__all__ = ["STATIC_DIR", "AccountError", "ConsoleDeps", "build_console_router", "create_account"]
