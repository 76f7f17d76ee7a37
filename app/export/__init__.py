"""Export: the whole record as JSON (``record``), and posts, pages and comments as WXR 1.2 (``wxr``).

An organisation must be able to leave, and an engine that keeps an ethics record must hand it over
whole: every revision, publication, approval, correction, retraction, disclosure and moderation decision.
Both exports stream from the database in batches, so the size of the blog never sets the memory used.
Secrets (password hashes, API tokens, mail with signed links) never leave: ``tables`` says, column by
column, what is exported and why anything is not.
"""
