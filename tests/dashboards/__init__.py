"""The analyst dashboard's tests (``dashboards/app.py``)."""
