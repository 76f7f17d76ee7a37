"""Flask glue: the database session per request, who is asking, error pages, headers and caching."""
