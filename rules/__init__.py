"""lifelint's rules: one module per rule (installed as the package `lifelint.rules`)."""

# Every rule's code, name and default (on unless opted out of), readable without importing the
# rule modules: configuration is validated, and a re-run served whole from the cache is
# reported, without loading any of them. lifelint.registry.all_rules() checks this table
# against the rule classes, so a rule added without its line here fails every test run.
CATALOG: tuple[tuple[str, str, bool], ...] = (
    ("LL101", "view-escapes-lock", True),
    ("LL102", "this-captured-in-async", True),
    ("LL103", "ref-capture-in-async", True),
    ("LL104", "view-captured-in-async", True),
    ("LL105", "owner-pointer-in-global", True),
    ("LL106", "container-invalidation", True),
    ("LL107", "borrowed-buffer-as-owned", True),
    ("LL108", "noop-deallocator", True),
    ("LL201", "non-atomic-stop-flag", True),
    ("LL202", "unsynchronized-global", True),
    ("LL203", "inconsistent-locking", True),
    ("LL204", "lock-order-inversion", True),
    ("LL205", "callback-under-lock", True),
    ("LL206", "check-then-act-atomic", True),
    ("LL301", "ffi-free-without-quiesce", True),
    ("LL302", "ffi-double-take", True),
    ("LL303", "unsafe-without-safety-comment", False),
    ("LL304", "unchecked-raw-slice", True),
    ("LL305", "relaxed-teardown-handshake", True),
)
