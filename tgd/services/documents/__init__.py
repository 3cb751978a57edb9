"""Document writers, one module per format, shared by the reports, the exports and the registers.

``ods`` streams spreadsheets; ``odt`` and ``pdf`` lay out the same text
``model.Document``, so a caller describes its document once for both.
"""
