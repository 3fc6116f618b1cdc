"""OFR events: the events file, its index and search, and reading event questions."""
