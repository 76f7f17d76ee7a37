"""The editorial workflow: review, publishing gates, overrides, scheduling, retraction."""
