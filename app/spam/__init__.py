"""Spam checking: the ordered checks a reader comment passes (pipeline), Akismet behind its adapter, the
impersonation check and the off-topic scorer.

Pure, apart from Akismet's network call: no Flask, no database, and nothing of the comment model. What
the checks need to know from the database is gathered by app.comments and handed in; the pipeline
answers with verdicts and reasons, and app.comments decides what they make of the comment.
"""
