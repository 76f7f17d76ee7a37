"""Contact messages: a reader writes to the blog's staff privately, and staff answer by e-mail, with
every reply kept. Stands on app.mail; knows nothing of comments."""
