"""An upload handler that keeps no more of a file than an attachment may hold.

Django buffers each uploaded file (in memory, then in a temporary file) before any view runs; the CSRF
check already reads the form. This handler, first in FILE_UPLOAD_HANDLERS, passes a file's bytes on to
Django's own handlers only up to ATTACHMENT_MAX_BYTES. Past that it drops the rest (still reading it, so
the client gets an answer rather than a reset connection) and hands the form an `OversizeUpload` carrying
the true size and no content, which the attachment services refuse with a clear message.
"""

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class OversizeUpload(UploadedFile):
    """A file that was larger than the limit: its name and size, no content."""

    def __init__(self, name, content_type, size):
        super().__init__(file=None, name=name, content_type=content_type, size=size)

    def chunks(self, chunk_size=None):
        return iter(())

    def read(self, *args):
        return b""

    def seek(self, *args):
        return 0

    def open(self, mode=None):
        return self

    def close(self):
        pass


class SizeLimitedUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.ATTACHMENT_MAX_BYTES:
            return None  # the following handlers never see the bytes past the limit
        return raw_data

    def file_complete(self, file_size):
        if self.received > settings.ATTACHMENT_MAX_BYTES:
            return OversizeUpload(self.file_name, self.content_type, self.received)
        return None  # Django's own handlers complete the file
