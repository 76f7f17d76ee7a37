"""WordPress eXtended RSS (WXR): reading, writing and converting content, with no database.

The groundwork of importing from and exporting to WordPress (issue 13): ``wxr`` streams an export into
typed records, ``write`` streams records back out as WXR 1.2, ``convert`` turns WordPress content into
Markdown. Nothing here knows Candor's domain, so it can be tested, and reused, on its own.
"""
