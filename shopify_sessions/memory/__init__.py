"""Sessions in process: the storages for tests and single-process tools."""
