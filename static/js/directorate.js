// Small behaviours shared by every page. Pages work without this file.
