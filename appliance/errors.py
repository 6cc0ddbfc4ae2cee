"""One root for every error Callbox raises on purpose.

Boundaries translate these: the webhook into 4xx JSON, the CLI into one line
and an exit code, the panel into a message on the page.
"""

from __future__ import annotations

from collections.abc import Sequence


class CallboxError(Exception):
    """Root of every deliberate Callbox error."""


class ConfigError(CallboxError):
    """A configuration file or value is wrong (unknown key, bad type)."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ":".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.key = key


class ModemError(CallboxError):
    """The modem did not do what was asked."""


class AtTimeout(ModemError):
    """An AT command got no final result code in time."""


class AtCommandError(ModemError):
    """An AT command ended in ERROR, +CME ERROR, +CMS ERROR or similar."""

    def __init__(self, command: str, result: str) -> None:
        super().__init__(f"{command!r} answered {result!r}")
        self.command = command
        self.result = result


class PortError(ModemError):
    """A serial port could not be opened, or failed while open (unplugged)."""


class AudioError(CallboxError):
    """The audio path of a call failed."""


class SpeechError(CallboxError):
    """A speech model could not be loaded or used."""


class FlowError(CallboxError):
    """A flow document is invalid; names the node and field at fault."""

    def __init__(self, message: str, *, node: str | None = None, field: str | None = None) -> None:
        where = ".".join(p for p in (node, field) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.node = node
        self.field = field


class FlowRejected(FlowError):
    """A document with problems was not published; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[FlowError]) -> None:
        super().__init__(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing was published")
        self.problems = list(problems)


class StorageError(CallboxError):
    """A store could not read or write."""


class TicketInvalid(CallboxError):
    """A ticket payload is missing a field or has a wrong one."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TaskInvalid(CallboxError):
    """A call task's settings, customers or CSV cannot be used; names the field (``settings.lines``). ``problems``
    holds every ``(field, message)`` found (settings are checked whole); ``field`` and ``message`` are the first."""

    def __init__(self, message: str, *, field: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        self.problems = list(problems) or [(field, message)]
        super().__init__("; ".join(f"{path}: {text}" for path, text in self.problems))
        self.field = field
        self.message = message

    @classmethod
    def of(cls, problems: Sequence[tuple[str, str]]) -> TaskInvalid:
        """The error naming every one of ``problems`` (at least one)."""
        field, message = problems[0]
        return cls(message, field=field, problems=problems)


class QueryInvalid(CallboxError):
    """A read API query parameter cannot be used (a phone that is not a number, an unknown outcome)."""

    def __init__(self, message: str, *, parameter: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


class RulesInvalid(CallboxError):
    """A set of rules or scenarios was refused whole; ``problems`` holds every ``(path, message)`` found, the path
    naming the item and field (``rules[2].subject_regex``)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        first = "; ".join(f"{path}: {message}" for path, message in self.problems[:3])
        more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        super().__init__(f"{first}{more}" if self.problems else "refused")


class TagInvalid(CallboxError):
    """A reviewer's QA tag cannot be stored (a tag name that is not one, a note too long); names the field."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AccessInvalid(CallboxError):
    """A change to the panel's users or API tokens was refused (a name taken, a short password, the last admin);
    ``code`` says which, so the panel can say it in the reader's language; ``field`` names the form field."""

    def __init__(self, message: str, *, code: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


class TicketActionRefused(CallboxError):
    """An owner's action on a ticket (call now, retry, cancel, a note) that its state does not allow, or a note
    that cannot be stored; ``message`` says why in plain words, ``code`` names the reason (the panel says it in
    the user's language). Nothing was changed."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class PresetsInvalid(CallboxError):
    """A list of VUI presets was refused whole; ``problems`` holds every ``(path, message)`` found
    (``presets[1].vui.no_input_ms``)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.problems[:3]) or "refused")


class SettingInvalid(CallboxError):
    """A setting changed from the panel cannot be used (the loader refused it, or it is set by the environment);
    names the key (``calling.hours``). Nothing was written."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TestCallRefused(CallboxError):
    """The panel's test call was not placed. ``reason`` is a kind the panel puts in words (``number``,
    ``do_not_call``, ``hours``, ``line``, ``busy``); ``until``: the first time the calling rules allow (``hours``)."""

    __test__ = False  # not a pytest class, whatever its name says

    def __init__(self, reason: str, message: str, *, until: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.until = until
