"""lifelint: lifetime and thread-safety hazards in C++ and Rust, found before they ship."""

__version__ = "0.1.0"
HOMEPAGE = "https://github.com/lifelint/lifelint"
