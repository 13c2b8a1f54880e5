"""The Search page (the code is in ui/views/search.py)."""

from ui.views.search import render

render()
