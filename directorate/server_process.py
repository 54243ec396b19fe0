"""One server process of `manage.py serve`: daphne's command line, taking connections one at a time, with the
database's WAL checkpoints in a thread of its own (`directorate.sqlite.checkpoints`).

Several of these accept from one shared listening socket. Twisted accepts as many waiting connections as it
can each time the socket is ready (up to 100 and more), so the first process to wake took nearly all of a burst:
32 clients connecting at once were split 31 to 1. Accepting one connection per wake-up lets every process take
its turn, and a process busy with requests wakes later and so takes fewer.

    python -m directorate.server_process --fd 3 directorate.asgi:application
"""

import importlib

from daphne.cli import CommandLineInterface
from twisted.internet import tcp

from directorate.sqlite import checkpoints


def accept_one_at_a_time():
    """Twisted's listening port counts how many to accept next (`numberAccepts`); keep it at one."""
    tcp.Port.numberAccepts = property(lambda port: 1, lambda port, value: None)


if __name__ == "__main__":
    accept_one_at_a_time()
    importlib.import_module("directorate.asgi")  # sets Django up; daphne then finds the application imported
    checkpoints.start()
    CommandLineInterface.entrypoint()
