"""Publishing gates: pure checks a post or comment must pass, with no Flask and no database.

Each gate takes text (or links) and returns what is wrong with it, in a shape a writer can act on:
a kind, a position and a reason. Services decide what to do with the answer (block a submission with
``PublishBlocked``, hold a comment for moderation), so the same checks behave identically from the web,
the JSON API, the CLI and tests.
"""
