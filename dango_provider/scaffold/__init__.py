"""Files that ``dango init`` writes into a new project."""
