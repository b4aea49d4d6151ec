"""A pytest plugin (``-p etfproject.testing`` in pytest.ini): the suite runs in development mode.

``DEBUG`` is off unless set (a safe default for deployments); tests need it on (static files
without ``collectstatic``, no HTTPS redirect). It is set here, before pytest-django loads the
settings, and inherited by the ``manage.py`` subprocesses tests start. Tests of the defaults
themselves start ``manage.py`` with a clean environment.
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")
