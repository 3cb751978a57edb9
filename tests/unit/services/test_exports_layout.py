"""The closure export's layout: title, subtitle, then each section's rows and paragraphs."""

from __future__ import annotations

from tgd.services.documents.model import Heading, Note, Pairs, Paragraph
from tgd.services.exports import ExportDocument, Section, text_document


def test_sections_become_headings_label_value_tables_and_paragraphs() -> None:
    doc = ExportDocument(
        title="Fiche bénéficiaire 2026-0042",
        subtitle="Document nominatif et confidentiel.",
        sections=[
            Section("Dossier", [("Numéro de fiche", "2026-0042")], ["Néant."]),
            Section("Informations temporaires", paragraphs=["Du 01/07 au 02/07 : absente."]),
        ],
    )
    document = text_document(doc)
    assert document.blocks == [
        Heading("Fiche bénéficiaire 2026-0042", level=1),
        Note("Document nominatif et confidentiel."),
        Heading("Dossier"),
        Pairs([("Numéro de fiche", "2026-0042")]),
        Paragraph("Néant."),
        Heading("Informations temporaires"),
        Paragraph("Du 01/07 au 02/07 : absente."),
    ]
    assert document.title == doc.title and not document.landscape
    assert document.author == "Téléphone Grave Danger" and document.footer == ""
