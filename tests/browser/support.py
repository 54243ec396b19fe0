"""Helpers shared by the browser tests."""


class ConsoleLog:
    """Console messages and uncaught errors of every page of a browser context."""

    def __init__(self):
        self.messages = []
        self.page_errors = []

    def watch(self, context):
        context.on("console", lambda message: self.messages.append(f"[{message.type}] {message.text}"))
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def csp_violations(self):
        return [text for text in self.messages if "Content Security Policy" in text]
