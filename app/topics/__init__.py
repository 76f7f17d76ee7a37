"""The editors' topic list, and the reader pages and feeds of each topic."""
