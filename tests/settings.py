"""Settings for the test suite: the project's settings with a fast password hasher.

Production stores passwords with bcrypt (`directorate.settings.PASSWORD_HASHERS`), which costs a third of a
second a hash by design. The suite hashes and checks passwords in nearly every test, so it uses Django's MD5
hasher instead; `tests/test_auth.py::test_production_stores_passwords_with_bcrypt_sha256` proves, with real
bcrypt, what production does. Servers the tests start in subprocesses keep `directorate.settings`.
"""

from directorate.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
