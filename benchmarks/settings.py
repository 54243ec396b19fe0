"""Settings for benchmark servers only: the project's settings plus a floor view (benchmarks/urls.py).

`make bench` starts daphne with DJANGO_SETTINGS_MODULE=benchmarks.settings, so the app is served exactly as
configured by directorate.settings and only the benchmark server has the extra route.
"""

from directorate.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
