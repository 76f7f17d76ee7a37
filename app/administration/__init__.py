"""Account administration: staff accounts, passwords and API tokens, every change audited."""
