"""Page scripts for `st.navigation`; each calls one view."""
