"""Health information: which posts are marked as such, and their "medically reviewed by" records."""
