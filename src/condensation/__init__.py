"""condensation: learn tiny synthetic training sets (DC, DSA, DM, coresets)."""

__version__ = "0.1.0"
