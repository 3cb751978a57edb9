"""Document writers, one module per format, shared by the reports, the exports and the registers."""
