"""The Library page (the code is in ui/views/library.py)."""

from ui.views.library import render

render()
