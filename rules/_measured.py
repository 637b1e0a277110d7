"""Measured precision of each rule on the precision ledger (benchmarks/precision/): written by
`benchmarks/precision/run.py --measured-out`, never by hand."""

MEASURED_WITH = 'lifelint 497cd60, 2026-12-08'

MEASURED: dict[str, dict[str, dict[str, int]]] = {
    "LL101": {
        "test": {
            "FALSE": 4,
            "TRUE": 2,
            "UNCLEAR": 0,
            "reported": 6,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 4,
            "TRUE": 0,
            "UNCLEAR": 1,
            "reported": 5,
            "untriaged": 0
        }
    },
    "LL102": {
        "test": {
            "FALSE": 0,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 0,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 5,
            "TRUE": 2,
            "UNCLEAR": 0,
            "reported": 7,
            "untriaged": 0
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
            "FALSE": 19,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 19,
            "untriaged": 0
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
            "FALSE": 2,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 2,
            "untriaged": 0
        }
    },
    "LL106": {
        "test": {
            "FALSE": 12,
            "TRUE": 2,
            "UNCLEAR": 0,
            "reported": 14,
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
            "FALSE": 0,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 0,
            "untriaged": 0
        }
    },
    "LL109": {
        "test": {
            "FALSE": 8,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 8,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 0,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 53,
            "untriaged": 53
        }
    },
    "LL201": {
        "test": {
            "FALSE": 9,
            "TRUE": 5,
            "UNCLEAR": 0,
            "reported": 14,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 1,
            "TRUE": 1,
            "UNCLEAR": 0,
            "reported": 2,
            "untriaged": 0
        }
    },
    "LL202": {
        "test": {
            "FALSE": 73,
            "TRUE": 48,
            "UNCLEAR": 1,
            "reported": 122,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 12,
            "TRUE": 14,
            "UNCLEAR": 1,
            "reported": 27,
            "untriaged": 0
        }
    },
    "LL203": {
        "test": {
            "FALSE": 85,
            "TRUE": 8,
            "UNCLEAR": 0,
            "reported": 93,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 22,
            "TRUE": 8,
            "UNCLEAR": 0,
            "reported": 30,
            "untriaged": 0
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
            "FALSE": 7,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 7,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 3,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 3,
            "untriaged": 0
        }
    },
    "LL206": {
        "test": {
            "FALSE": 0,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 0,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 1,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 1,
            "untriaged": 0
        }
    },
    "LL207": {
        "tune": {
            "FALSE": 1,
            "TRUE": 3,
            "UNCLEAR": 0,
            "reported": 4,
            "untriaged": 0
        }
    },
    "LL208": {
        "tune": {
            "FALSE": 2,
            "TRUE": 1,
            "UNCLEAR": 0,
            "reported": 3,
            "untriaged": 0
        }
    },
    "LL209": {
        "test": {
            "FALSE": 24,
            "TRUE": 8,
            "UNCLEAR": 0,
            "reported": 32,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 2,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 2,
            "untriaged": 0
        }
    },
    "LL210": {
        "test": {
            "FALSE": 21,
            "TRUE": 3,
            "UNCLEAR": 0,
            "reported": 24,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 10,
            "TRUE": 3,
            "UNCLEAR": 0,
            "reported": 13,
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
        "test": {
            "FALSE": 0,
            "TRUE": 1,
            "UNCLEAR": 0,
            "reported": 1,
            "untriaged": 0
        },
        "tune": {
            "FALSE": 0,
            "TRUE": 0,
            "UNCLEAR": 0,
            "reported": 0,
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
