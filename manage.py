#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directorate.settings")
    from django.core.management import execute_from_command_line

    from directorate.config import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as error:
        sys.exit(f"configuration error: {error}")


if __name__ == "__main__":
    main()
