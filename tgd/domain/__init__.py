"""Pure domain: no Flask, no database; values and rules from DESIGN.md."""
