"""Helpers shared by the browser tests."""

# The screens pages are checked at, and a script listing what sticks out of the screen sideways.
SCREENS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}, "suffix": ""},
    "phone": {"viewport": {"width": 390, "height": 844}, "suffix": "-phone", "is_mobile": True, "has_touch": True},
}
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter(el => el.getBoundingClientRect().right > width + 1);
  const shown = wide.slice(0, 5).map(el => el.outerHTML.slice(0, 80));
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: shown};
}"""


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


def screen_page(new_context, console_log, screen, screens=SCREENS):
    """A new page in a browser context the size of `screen` (a key of `screens`), its console watched."""
    settings = screens[screen]
    context = new_context(
        viewport=settings["viewport"],
        device_scale_factor=1,
        is_mobile=settings.get("is_mobile", False),
        has_touch=settings.get("has_touch", False),
    )
    console_log.watch(context)
    return context.new_page()
