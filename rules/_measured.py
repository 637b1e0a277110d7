"""Measured precision of each rule on the precision ledger (benchmarks/precision/): written by
`benchmarks/precision/run.py --measured-out`, never by hand."""

MEASURED_WITH = 'lifelint df02a19 (before this round), 2026-12-07'

MEASURED: dict[str, dict[str, dict[str, int]]] = {
    "LL101": {
        "test": {
            "FALSE": 5,
            "TRUE": 1,
            "UNCLEAR": 0,
            "reported": 6,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 5,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 5,
            "untriaged": 0
        }
    },
    "LL102": {
        "test": {
            "FALSE": 8,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 8,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 18,
            "TRUE": 2,
            "UNCLEAR": 0,
            "reported": 64,
            "untriaged": 44
        }
    },
    "LL103": {
        "test": {
            "FALSE": 1,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 1,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 18,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 23,
            "untriaged": 5
        }
    },
    "LL105": {
        "test": {
            "FALSE": 10,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 10,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 17,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 20,
            "untriaged": 3
        }
    },
    "LL106": {
        "test": {
            "FALSE": 9,
            "TRUE": 1,
            "UNCLEAR": 0,
            "reported": 10,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 4,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 4,
            "untriaged": 0
        }
    },
    "LL107": {
        "test": {
            "FALSE": 1,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 1,
            "untriaged": 0
        }
    },
    "LL108": {
        "tune": {
            "FALSE": 9,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 9,
            "untriaged": 0
        }
    },
    "LL201": {
        "test": {
            "FALSE": 13,
            "TRUE": 3,
            "UNCLEAR": 0,
            "reported": 16,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 3,
            "TRUE": 1,
            "UNCLEAR": 0,
            "reported": 4,
            "untriaged": 0
        }
    },
    "LL202": {
        "test": {
            "FALSE": 19,
            "TRUE": 4,
            "UNCLEAR": 2,
            "reported": 47,
            "untriaged": 22
        },
        "tune": {
            "FALSE": 63,
            "TRUE": 3,
            "UNCLEAR": 0,
            "reported": 425,
            "untriaged": 359
        }
    },
    "LL203": {
        "test": {
            "FALSE": 14,
            "TRUE": 2,
            "UNCLEAR": 0,
            "reported": 84,
            "untriaged": 68
        },
        "tune": {
            "FALSE": 17,
            "TRUE": 4,
            "UNCLEAR": 0,
            "reported": 35,
            "untriaged": 14
        }
    },
    "LL204": {
        "tune": {
            "FALSE": 1,
            "TRUE": 1,
            "UNCLEAR": 0,
            "reported": 2,
            "untriaged": 0
        }
    },
    "LL205": {
        "test": {
            "FALSE": 9,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 9,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 4,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 4,
            "untriaged": 0
        }
    },
    "LL206": {
        "test": {
            "FALSE": 1,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 1,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 11,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 11,
            "untriaged": 0
        }
    },
    "LL303": {
        "test": {
            "FALSE": 0,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 800,
            "untriaged": 800
        },
        "tune": {
            "FALSE": 0,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 5149,
            "untriaged": 5149
        }
    },
    "LL304": {
        "tune": {
            "FALSE": 2,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 2,
            "untriaged": 0
        }
    },
    "LL305": {
        "test": {
            "FALSE": 1,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 1,
            "untriaged": 0
        }
    }
}
