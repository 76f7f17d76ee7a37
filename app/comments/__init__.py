"""Reader comments: submission, spam checking, moderation."""
