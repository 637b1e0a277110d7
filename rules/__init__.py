"""lifelint's rules: one module per rule (installed as the package `lifelint.rules`)."""
