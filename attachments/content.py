"""What an uploaded file really is, judged by its content, and the name it may be shown under.

The client's Content-Type and the file's extension are claims; the type is read from the bytes.
The extension must then agree with that type, so a file is never saved under a name that
would make another program open it as something else.
"""

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.template.defaultfilters import filesizeformat

from directorate.errors import Invalid

FILENAME_MAX = 120
SNIFF_BYTES = 1024

# Each accepted type: how its content starts, and the extensions a name of that type may end in.
BINARY_TYPES = {
    "image/png": ((b"\x89PNG\r\n\x1a\n",), (".png",)),
    "image/jpeg": ((b"\xff\xd8\xff",), (".jpg", ".jpeg")),
    "image/gif": ((b"GIF87a", b"GIF89a"), (".gif",)),
    "application/pdf": ((b"%PDF-",), (".pdf",)),
}
TEXT_EXTENSIONS = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".log": "text/plain",
    ".md": "text/plain",
    ".csv": "text/csv",
}
ALLOWED = "PNG, JPEG, GIF, PDF, plain text (.txt, .md, .log) or CSV"

# Text a browser could take for a page or an image with scripts in it (the WHATWG sniffing rules look at the
# start of a file; script carriers are refused wherever they appear): never accepted, under any name.
MARKUP_START = re.compile(rb"^\s*<", re.ASCII)
SCRIPT_CARRIERS = re.compile(rb"<\s*(?:script|svg|html|iframe|object|embed|!doctype)\b", re.IGNORECASE)
# Control characters other than tab, line feed, form feed and carriage return mean "not text".
BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
REFUSED_IN_NAMES = re.compile(r'[\\/:*?"<>|;%]')


@dataclass(frozen=True)
class Inspected:
    filename: str
    content_type: str
    size: int
    sha256: str


def sanitised_filename(raw):
    """A name safe to show and to send in a header: the last path part, without control, format (bidi) or
    separator characters, quotes or leading dots, at most FILENAME_MAX characters with its extension kept."""
    name = unicodedata.normalize("NFC", str(raw or "")).replace("\\", "/")
    name = name.rsplit("/", 1)[-1]
    name = "".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in name)
    name = REFUSED_IN_NAMES.sub("_", name)
    name = " ".join(name.split()).lstrip(". ").rstrip(". ")
    if len(name) > FILENAME_MAX:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if len(suffix) <= 10 else ""
        name = name[: FILENAME_MAX - len(suffix)].rstrip(". ") + suffix
    return name or "file"


def inspect_upload(upload, *, max_bytes):
    """The verified facts of `upload` (a Django File), or Invalid saying plainly why it is refused."""
    filename = sanitised_filename(getattr(upload, "name", ""))
    extension = PurePosixPath(filename).suffix.lower()
    size = upload.size or 0
    if size > max_bytes:
        raise _refused(f"The file is {_megabytes(size)}; attachments are at most {_megabytes(max_bytes)}.")
    if size == 0:
        raise _refused("The file is empty.")
    digest = hashlib.sha256()
    head = b""
    text = TextCheck()
    read = 0
    for chunk in upload.chunks():
        read += len(chunk)
        if read > max_bytes:
            raise _refused(f"The file is larger than {_megabytes(max_bytes)}.")
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        digest.update(chunk)
        text.feed(chunk)
    if read == 0:
        raise _refused("The file is empty.")
    content_type = _binary_type(head)
    if content_type is not None:
        extensions = BINARY_TYPES[content_type][1]
        if extension not in extensions:
            raise _refused(
                f"The file's content is {_label(content_type)}, but its name ends in {extension or 'nothing'}: "
                f"name it …{extensions[0]}."
            )
    elif text.finish():
        if extension not in TEXT_EXTENSIONS:
            raise _refused(
                f"The file is plain text, but its name ends in {extension or 'nothing'}: name it .txt, .md, "
                f".log or .csv."
            )
        content_type = TEXT_EXTENSIONS[extension]
    else:
        raise _refused(text.refusal or f"This kind of file is not accepted. Attach {ALLOWED}.")
    return Inspected(filename=filename, content_type=content_type, size=read, sha256=digest.hexdigest())


class TextCheck:
    """Fed a file chunk by chunk: is it UTF-8 text with no NUL or other binary controls, and no markup?"""

    def __init__(self):
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.is_text = True
        self.started = False
        self.tail = b""
        self.refusal = ""

    def feed(self, chunk):
        if not self.is_text:
            return
        if not self.started:
            self.started = True
            if MARKUP_START.match(chunk.removeprefix(codecs.BOM_UTF8)):
                return self._refuse("Markup (HTML, SVG, XML) is not accepted: it can carry scripts.")
            if chunk.startswith(b"#!"):
                return self._refuse("Scripts are not accepted.")
        # A token split between two chunks is still found: look across the boundary.
        if SCRIPT_CARRIERS.search(self.tail + chunk):
            return self._refuse("Markup (HTML, SVG, XML) is not accepted: it can carry scripts.")
        self.tail = chunk[-16:]
        try:
            decoded = self.decoder.decode(chunk)
        except UnicodeDecodeError:
            self.is_text = False
            return
        if BINARY_CONTROL.search(decoded):
            self.is_text = False

    def finish(self):
        if self.is_text:
            try:
                self.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.is_text = False
        return self.is_text

    def _refuse(self, message):
        self.is_text = False
        self.refusal = message


def _binary_type(head):
    for content_type, (signatures, _extensions) in BINARY_TYPES.items():
        if head.startswith(signatures):
            return content_type
    return None


def _label(content_type):
    return {
        "image/png": "a PNG image",
        "image/jpeg": "a JPEG image",
        "image/gif": "a GIF image",
        "application/pdf": "a PDF document",
    }[content_type]


def _megabytes(size):
    return filesizeformat(size).replace("\xa0", " ")


def _refused(message):
    return Invalid(message, field_errors={"file": [message]})
