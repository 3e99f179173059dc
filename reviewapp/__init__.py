"""The expert review web app (``stormborn review serve``)."""
