"""Moderation: the moderators' decisions on comments and the rules they follow, the queues they work
from (held comments, readers waiting for a staff reply), what they owe Akismet, and their desk. Builds
on app.comments and app.contact; nothing below imports it."""
