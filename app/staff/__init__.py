"""The staff desk: server-rendered pages for writing, disclosing, reviewing and auditing (``/staff``)."""
