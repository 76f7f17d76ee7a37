"""Images: uploaded, stripped of every byte of metadata, stored once by content hash, served immutable."""
