"""## What it does
Flags an `unsafe { }` block or an `unsafe impl` that has no `// SAFETY:` comment directly above
it: on the line(s) right before the `unsafe`, or right before the `let` / assignment /
statement / `const` / `static` that contains the block (also above that statement's
attributes).

What counts as a SAFETY comment is exactly what clippy's `undocumented_unsafe_blocks` accepts:
the nearest non-blank line above is a `//` comment and the run of `//` lines it belongs to
contains `SAFETY:` in any case (`// Safety:` works, `// SAFETY` without the colon does not), or
the nearest comment above is a `/* ... */` block comment containing `SAFETY:` with nothing but
whitespace after it. Blank lines between the comment and the code are fine; a comment on the
same line as `unsafe` (`/* SAFETY: */ unsafe {}`, `unsafe {} // SAFETY:`) or inside the block
does not count, and neither does text above the enclosing `fn`.

## Why is this bad?
An `unsafe` block is a promise that the code inside upholds invariants the compiler cannot
check: the pointer is valid and aligned, the length is in bounds, no one else holds a `&mut`.
When that promise is not written down, reviewers cannot check it and the next change breaks it
silently. The seed 002 report (an io_uring module whose 47 unsafe blocks were only later "documented")
shows the pattern: undocumented blocks around raw buffers, ring indices and file descriptors
hid use-after-free and overflow bugs that a one-line justification would have exposed.

## Example
```rust
pub fn read_slot(ring: &Ring, i: usize) -> u64 {
    unsafe { *ring.slots.add(i & ring.mask) }
}
unsafe impl Send for Ring {}
```

## Use instead
```rust
pub fn read_slot(ring: &Ring, i: usize) -> u64 {
    // SAFETY: `i & mask` < capacity, and `slots` points to `capacity` initialised entries
    // that live as long as `ring`.
    unsafe { *ring.slots.add(i & ring.mask) }
}
// SAFETY: `Ring` owns its buffer and only hands out copies of entries.
unsafe impl Send for Ring {}
```

## Known limits
- Off by default, as clippy's `undocumented_unsafe_blocks` is (it is frequent on existing
  crates: 1,640 on tokio, crossbeam, openssl, libgit2-sys and parking_lot). Turn it on with
  `extend-select = ["LL303"]` or `--extend-select LL303`.
- Differences from clippy (lifelint reads source text, not expanded code):
  - `unsafe` inside `macro_rules!` bodies and macro arguments is found from the tokens; a body
    is reported even if the macro is never expanded (clippy only sees expanded ones), and
    `quote!` / `parse_quote!` token streams (proc-macro output) are skipped;
  - blocks in code that `#[cfg]` disables for the build are checked too (clippy never sees
    them);
  - for the first item of a file, clippy ignores a comment on line 1; lifelint accepts it.
  The fixtures for this rule are checked line for line against `clippy-driver -W
  clippy::undocumented_unsafe_blocks`.
- `unsafe fn` declarations are recorded (with their `# Safety` doc sections) but not flagged:
  that is clippy's `missing_safety_doc`, not this rule.
- Whether the comment is *true* is for the reviewer; the rule only checks that it exists.
"""

from __future__ import annotations

from lifelint.model import Level, Precision
from lifelint.registry import Rule


class UnsafeWithoutSafetyComment(Rule):
    code = "LL303"
    name = "unsafe-without-safety-comment"
    languages = ("rust",)
    level = Level.NOTE
    group = "restriction"  # like clippy's undocumented_unsafe_blocks: opt in
    precision = Precision.VERY_HIGH
    summary = "An `unsafe` block or `unsafe impl` without a `// SAFETY:` comment saying why it is sound."
    tags = ("unsafe", "documentation", "maintainability")
    seeds = ("002",)
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        rust = facts.rust
        if rust is None:
            return
        for site in rust.unsafe_sites:
            if site.documented or site.kind not in ("block", "impl"):
                continue
            if site.kind == "block":
                where = f" in `{site.function}`" if site.function else ""
                where += " (in a macro definition)" if site.label.endswith("in a macro definition") else ""
                message = f"Unsafe block{where} has no `// SAFETY:` comment."
                because = ("Nothing tells a reader (or a reviewer of the next change) why every operation inside is "
                           "sound, e.g. which check keeps the pointer valid and the length in bounds.")
                fix = "Write on the line above (or above the statement that holds it) why every operation inside is sound."
            else:
                message = f"`{site.label}` has no `// SAFETY:` comment."
                because = ("Nothing says why the type really upholds the trait's contract (e.g. which lock or "
                           "ownership rule makes sharing it across threads sound).")
                fix = "Write on the line above why the type upholds the trait's contract."
            yield self.finding(site.head, message, why=because, fix=fix)
