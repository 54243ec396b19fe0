"""Settings for the Directorate of Order. Values from outside come from `config.py`."""

from django.utils.csp import CSP

from directorate.config import BASE_DIR, read_config

CONFIG = read_config()

DEBUG = CONFIG["DEBUG"]
SECRET_KEY = CONFIG["SECRET_KEY"]
JWT_SECRET = CONFIG["JWT_SECRET"]
GEMINI_API_KEY = CONFIG["GEMINI_API_KEY"]
MONGO_URI = CONFIG["MONGO_URI"]
REDIS_URL = CONFIG["REDIS_URL"]
VAR_DIR = CONFIG["VAR_DIR"]
ALLOWED_HOSTS = CONFIG["ALLOWED_HOSTS"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "ninja",
    "accounts",
    "tickets",
    "economy",
    "nyx",
    "attachments",
    "analytics",
    "desk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "nyx.middleware.NikiRoutesMiddleware",  # Niki's routes exist for Niki only
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "directorate.middleware.DomainErrorMiddleware",
    "directorate.middleware.PrivatePagesMiddleware",
]

ROOT_URLCONF = "directorate.urls"
ASGI_APPLICATION = "directorate.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "desk.context_processors.masthead",
            ],
        },
    },
]

# Databases: SQLite (WAL) by default, MongoDB when MONGO_URI is set.
if MONGO_URI:
    from directorate.mongo.settings import mongo_database, use_mongo_contrib_apps

    DATABASES = {"default": mongo_database(MONGO_URI)}
    INSTALLED_APPS = use_mongo_contrib_apps(INSTALLED_APPS)
    MIGRATION_MODULES = {
        "auth": "directorate.mongo.migrations.auth",
        "contenttypes": "directorate.mongo.migrations.contenttypes",
    }
    DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
else:
    CONFIG["SQLITE_PATH"].parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "directorate.sqlite",
            "NAME": CONFIG["SQLITE_PATH"],
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "TEST": {"NAME": VAR_DIR / "test.sqlite3"},
        }
    }
    # Our own models all use ObjectId string keys; this only names the default.
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: in memory on one process, Redis when it must span several.
# Both layers drop a message silently when a socket's queue already holds `capacity` messages (default 100) or
# when it waited longer than `expiry` (default 60 s). A busy process can fall that far behind for a while (the
# Redis soak, benchmarks/redis_soak.py, lost events that way), so each socket may queue far more.
LIVE_CHANNEL_CAPACITY = 10_000
LIVE_CHANNEL_EXPIRY = 300  # seconds
# Where `directorate.events.publish` hands the events of a unit: the live event log, written in the unit on SQLite
# (then sent once it commits), in a unit of its own after the commit on MongoDB.
LIVE_EVENT_RECORDING = "accounts.live.record_in_unit"
LIVE_EVENT_DELIVERY = "accounts.live.record_and_send"
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s timeout, the same as channels-redis's blocking pop: a late reply
            # would fail the consumer and lose the event it had taken. Give reads more time than the pop.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "capacity": LIVE_CHANNEL_CAPACITY,
                "expiry": LIVE_CHANNEL_EXPIRY,
            },
        }
    }
else:
    # One process: in memory, and events of other processes come through the live event log (accounts/relay.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "directorate.layers.AmortisedInMemoryChannelLayer",
            "CONFIG": {"capacity": LIVE_CHANNEL_CAPACITY, "expiry": LIVE_CHANNEL_EXPIRY},
        }
    }

# Accounts and passwords
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Nyx's base hourly pay is configurable (spec 5.1); it earns no credits.
NYX_HOURLY_PAY = CONFIG["NYX_HOURLY_PAY"]

# Nyx's model and worker (docs/nyx.md), validated with the rest in config.py.
GEMINI_BASE_URL = CONFIG["GEMINI_BASE_URL"]
NYX_MODEL = CONFIG["NYX_MODEL"]
NYX_TIMEOUT_SECONDS = CONFIG["NYX_TIMEOUT_SECONDS"]
NYX_RETRY_ATTEMPTS = CONFIG["NYX_RETRY_ATTEMPTS"]
NYX_RETRY_INITIAL_DELAY = CONFIG["NYX_RETRY_INITIAL_DELAY"]
NYX_RETRY_MAX_DELAY = CONFIG["NYX_RETRY_MAX_DELAY"]
NYX_MAX_OUTPUT_TOKENS = CONFIG["NYX_MAX_OUTPUT_TOKENS"]
NYX_MAX_OUTPUT_CHARS = CONFIG["NYX_MAX_OUTPUT_CHARS"]
NYX_REVIEW_BATCH = CONFIG["NYX_REVIEW_BATCH"]
NYX_MAX_DIRECTIVES = CONFIG["NYX_MAX_DIRECTIVES"]
NYX_RETRY_REFUSED_AFTER = CONFIG["NYX_RETRY_REFUSED_AFTER"]
NYX_DIRECTIVE_PERIOD = CONFIG["NYX_DIRECTIVE_PERIOD"]
NYX_WORKER_INTERVAL = CONFIG["NYX_WORKER_INTERVAL"]

# Weekly payroll (docs/rules.md section 9): paid hours per ISO week, and the credit decay in percent (0: none).
PAYROLL_HOURS_PER_PERIOD = CONFIG["PAYROLL_HOURS_PER_PERIOD"]
PAYROLL_DECAY_PERCENT = CONFIG["PAYROLL_DECAY_PERCENT"]

# Failed sign-ins: after this many within the window, that account or address must wait.
LOGIN_THROTTLE = {"per_account": 5, "per_address": 20, "window_seconds": 15 * 60}

# Security headers and cookies
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating reverse proxy (docs/operations.md): the header by which the proxy says the request
# came over HTTPS (only ever set it when the proxy overwrites that header on every request), the origins the
# browser's forms come from, and HTTPS enforcement.
if CONFIG["TRUSTED_PROXY_SSL_HEADER"]:
    SECURE_PROXY_SSL_HEADER = (CONFIG["TRUSTED_PROXY_SSL_HEADER"], "https")
# The header carrying the client's address, set by the proxy: the sign-in throttle counts per address by it.
TRUSTED_PROXY_ADDRESS_HEADER = CONFIG["TRUSTED_PROXY_ADDRESS_HEADER"]
CSRF_TRUSTED_ORIGINS = CONFIG["CSRF_TRUSTED_ORIGINS"]
SECURE_SSL_REDIRECT = CONFIG["SECURE_SSL_REDIRECT"]
SECURE_HSTS_SECONDS = CONFIG["SECURE_HSTS_SECONDS"]
SECURE_HSTS_INCLUDE_SUBDOMAINS = CONFIG["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
SECURE_HSTS_PRELOAD = CONFIG["SECURE_HSTS_PRELOAD"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SESSION_COOKIE_AGE = 12 * 60 * 60
# Live sockets (accounts/consumers.py): how often a socket checks again that its session and member still stand,
# and how many sockets one member may hold in one server process.
LIVE_RECHECK_SECONDS = CONFIG["LIVE_RECHECK_SECONDS"]
LIVE_SOCKETS_PER_MEMBER = 10
# Sessions are kept in the database and read through a cache: one query less on every signed-in page. The
# cache is shared by every server process (`manage.py serve` runs several), so that a sign-out in one ends the
# session in all of them: files in VAR_DIR/cache (about 30 microseconds a read, against 0.6 ms for the session's
# query), or Redis when REDIS_URL is set. A session missing from the cache is read from the database
# (docs/rules.md, section "Several server processes"; docs/operations.md).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
            # Past this many entries a write removes a third of them (each write lists the folder): the sessions
            # removed are read from the database again.
            "OPTIONS": {"MAX_ENTRIES": 1000},
        }
    }

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

# Attachments: on disk under VAR_DIR (never a served folder), in GridFS when the database is MongoDB.
ATTACHMENT_MAX_BYTES = CONFIG["ATTACHMENT_MAX_BYTES"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": (
        {"BACKEND": "attachments.storage.GridFSStorage"}
        if MONGO_URI
        else {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": VAR_DIR / "attachments",
                "file_permissions_mode": 0o600,
                "directory_permissions_mode": 0o700,
            },
        }
    ),
}
# No uploaded file is kept past ATTACHMENT_MAX_BYTES (attachments/uploads.py); one form carries a few files
# at most, so a request can never make the server buffer more than a few attachments' worth.
FILE_UPLOAD_HANDLERS = [
    "attachments.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = 3
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's default, named: the most a body other than an upload may have
# The most an upload's (multipart) body may have, refused with 413 before it is read (directorate/gate.py):
# by default room for the most files one form carries at their largest, and 1 MB of form fields around them.
REQUEST_MAX_BYTES = CONFIG["REQUEST_MAX_BYTES"] or ATTACHMENT_MAX_BYTES * DATA_UPLOAD_MAX_NUMBER_FILES + 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o600

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
