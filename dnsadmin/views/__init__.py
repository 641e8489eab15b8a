"""The DNS pages: zones, records, import/export, history and API tokens."""
