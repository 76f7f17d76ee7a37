"""The baseline for bench_post_page.py: the least a Flask app can do per request.

Served by the same gunicorn settings as Candor, so the ratio between the two measures what Candor
adds on top of Flask, Werkzeug and gunicorn themselves.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "hello"
