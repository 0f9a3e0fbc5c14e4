"""[sot] claims (in progress)."""
