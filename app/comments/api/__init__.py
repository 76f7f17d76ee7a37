"""The comments' JSON API (views.py): the Flask edge of app.comments for API clients."""
