"""tree-sitter front end: one parser per language per process, bytes in, tree out.

C++ goes through a position-preserving pre-pass first (lifelint.cpp_prepass, when present)
so that macros and `#if` branches do not blind the rules; it never moves a byte, so every
span still points at the original text.
"""

from __future__ import annotations

import functools

import tree_sitter
import tree_sitter_cpp
import tree_sitter_rust

LANGUAGES = ("cpp", "rust")


@functools.cache
def language(name: str) -> tree_sitter.Language:
    if name == "cpp":
        return tree_sitter.Language(tree_sitter_cpp.language())
    if name == "rust":
        return tree_sitter.Language(tree_sitter_rust.language())
    raise ValueError(f"unknown language {name!r}")


@functools.cache
def parser(name: str) -> tree_sitter.Parser:
    return tree_sitter.Parser(language(name))


def prepare(lang: str, data: bytes, cpp_options=None) -> bytes:
    """The bytes the grammar sees: the C++ pre-pass output (same length) or `data` itself."""
    if lang == "cpp":
        try:
            from lifelint import cpp_prepass
        except ImportError:
            return data
        return cpp_prepass.prepass(data, cpp_options)
    return data


def parse(lang: str, data: bytes, cpp_options=None) -> tree_sitter.Tree:
    """Parse `data`. Node text comes from the pre-passed bytes; offsets match `data`."""
    return parser(lang).parse(prepare(lang, data, cpp_options))
