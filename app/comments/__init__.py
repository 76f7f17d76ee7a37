"""Reader comments: the comment and its log of decisions, submission (checked by app.spam), staff
comments, threads, the comment format, signed links and reply notifications. Moderation builds on it
(app.moderation)."""
