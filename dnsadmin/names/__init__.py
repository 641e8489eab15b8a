"""The DNS engine: zones, authoritative answers, transfers and the asyncio server.

Nothing in this package imports Django; the Django app adapts its rows to these types.
"""
