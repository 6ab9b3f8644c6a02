"""Skips are expected, or they fail the run.

A test that cannot run on a machine says so with a reason and is counted as skipped. Which
skips a machine is expected to have is written down (tests/expected-skips.txt for the CI
machine): a skip that is not listed fails the run, and so does a listed one whose test ran and
passed, so the list stays true. tests/run.py feeds a Ledger every skip and every pass.

The list's format, one skip per line (`#` starts a comment):

    MODE  TEST-ID  REASON

MODE is root or user, TEST-ID the name run.py prints (`volumes:size_limit_enforced`, or
`unit:test_cgroup/test_unprivileged_degrades_when_allowed` for one cmocka test), REASON the
start of the reason the test gives (the rest of a longer reason, e.g. an errno text, may
differ)."""
import collections
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LIST = os.path.join(HERE, "expected-skips.txt")
MODES = ("root", "user")

Entry = collections.namedtuple("Entry", "mode test reason where")


def normalize(reason):
    return " ".join(reason.split())


def parse(text, path="<list>"):
    """The entries of an expected-skips list; ValueError (with file:line) on a bad line."""
    entries = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{number}"
        fields = line.split(None, 2)
        if len(fields) < 3:
            raise ValueError(f"{where}: expected `MODE TEST-ID REASON`, got {line!r}")
        mode, test, reason = fields
        if mode not in MODES:
            raise ValueError(f"{where}: mode must be root or user, not {mode!r}")
        if (mode, test) in entries:
            raise ValueError(f"{where}: [{mode}] {test} is listed twice (first at "
                             f"{entries[(mode, test)].where})")
        entries[(mode, test)] = Entry(mode, test, normalize(reason), where)
    return entries


def load(path):
    with open(path) as f:
        return parse(f.read(), path)


def list_line(mode, test, reason):
    """The line that lists this skip, as the list's own format has it."""
    return f"{mode:<5} {test}  {normalize(reason)}"


class Ledger:
    """Every skip and pass of a run, checked against the expected entries. skipped() and
    passed() return a problem (one line, for a FAIL) or None; never_ran() the listed entries
    no test of the run answered, with their problem, which matters only for a run of the whole
    suite."""

    def __init__(self, entries, path):
        self.entries = entries
        self.path = path
        self.answered = set()

    def skipped(self, mode, test, reason):
        self.answered.add((mode, test))
        entry = self.entries.get((mode, test))
        reason = normalize(reason) or "(no reason given)"
        if entry is None:
            return (f"unexpected skip: [{mode}] {test} is not listed in {self.path}; if this "
                    f"machine really cannot run it, add the line `{list_line(mode, test, reason)}`")
        if not reason.startswith(entry.reason):
            return (f"skipped for another reason than listed at {entry.where}: got {reason!r}, "
                    f"listed {entry.reason!r}")
        return None

    def passed(self, mode, test):
        self.answered.add((mode, test))
        entry = self.entries.get((mode, test))
        if entry is None:
            return None
        return (f"stale expected skip: [{mode}] {test} ran and passed, but {entry.where} says "
                f"it skips here ({entry.reason!r}); remove that line")

    def failed(self, mode, test):
        """A failure answers the test's line too; whether it would have skipped is unknown."""
        self.answered.add((mode, test))

    def never_ran(self):
        return [(e, f"stale expected skip: {e.where} lists [{e.mode}] {e.test}, which no test "
                    f"of this run answered (renamed or removed?); fix or remove that line")
                for key, e in sorted(self.entries.items()) if key not in self.answered]
