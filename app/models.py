"""Every model, imported once, so Alembic and the schema tests see the whole metadata."""

from app.accounts.models import ApiToken, User, UserRole
from app.db import Base
from app.posts.models import Post, Publication, Revision

__all__ = ["ApiToken", "Base", "Post", "Publication", "Revision", "User", "UserRole"]
