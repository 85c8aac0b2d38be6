"""Every figure of the paper drawn from saved records only (matplotlib); never recomputes."""
