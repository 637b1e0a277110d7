"""lifelint's rules: one module per rule (installed as the package `lifelint.rules`)."""

# Every rule's code, name and group, readable without importing the rule modules: configuration
# is validated, and a re-run served whole from the cache is reported, without loading any of
# them. lifelint.registry.all_rules() checks this table against the rule classes, so a rule
# added without its line here fails every test run.
#
# Groups (clippy's way): "default" rules run unless deselected; a rule earns "default" only with
# precision >= 0.8 on the test half of the precision ledger (benchmarks/precision/). "nursery"
# rules are hazards still earning that trust, "restriction" rules flag a style of code rather
# than a hazard. Both are opt-in: `--extend-select nursery` or a code, or `select = ["ALL"]`.
CATALOG: tuple[tuple[str, str, str], ...] = (
    ("LL101", "view-escapes-lock", "nursery"),
    ("LL102", "this-captured-in-async", "nursery"),
    ("LL103", "ref-capture-in-async", "nursery"),
    ("LL104", "view-captured-in-async", "default"),
    ("LL105", "owner-pointer-in-global", "nursery"),
    ("LL106", "container-invalidation", "nursery"),
    ("LL107", "borrowed-buffer-as-owned", "nursery"),
    ("LL108", "noop-deallocator", "default"),
    ("LL109", "this-in-async-audit", "nursery"),
    ("LL201", "non-atomic-stop-flag", "nursery"),
    ("LL202", "unsynchronized-global", "nursery"),
    ("LL203", "inconsistent-locking", "nursery"),
    ("LL204", "lock-order-inversion", "nursery"),
    ("LL205", "callback-under-lock", "nursery"),
    ("LL206", "check-then-act-atomic", "nursery"),
    ("LL207", "shutdown-without-drain", "nursery"),
    ("LL208", "lock-not-released-on-every-path", "nursery"),
    ("LL209", "cross-thread-flag-audit", "nursery"),
    ("LL210", "unsynchronized-global-audit", "nursery"),
    ("LL301", "ffi-free-without-quiesce", "default"),
    ("LL302", "ffi-double-take", "default"),
    ("LL303", "unsafe-without-safety-comment", "restriction"),
    ("LL304", "unchecked-raw-slice", "default"),
    ("LL305", "relaxed-teardown-handshake", "nursery"),
)
