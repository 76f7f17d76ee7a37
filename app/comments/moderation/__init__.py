"""The moderators' desk for comments and contact messages (views only; the verbs are app.comments.*)."""
