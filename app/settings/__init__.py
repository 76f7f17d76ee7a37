"""What an admin changes at run time without a restart: names, privacy terms, blocked link hosts, comment
limits. Stored in the database over the environment's defaults; every change is kept with its old and new
value. Nothing below the web layer imports this package: the edge reads the values and passes them down.
"""
