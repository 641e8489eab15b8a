"""The bot's web pages: published logs (logs.py), search (search.py), staff administration (admin.py)."""
