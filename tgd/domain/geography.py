"""Geography of the terminal reference: départements and the official commune list.

This module owns the list of département codes a terminal reference may carry
(DESIGN.md §3: ``01``–``95`` with ``2A``/``2B`` and no ``20``, the overseas
départements ``971``–``976`` and the collectivities ``975``, ``977``, ``978``,
``986``, ``987``, ``988``) and the lookup of current communes by INSEE code.
The commune list is ``tgd/data/communes.csv``, derived from Etalab's
``@etalab/decoupage-administratif`` npm package by
``scripts/refresh_communes.py``; it is read once, lazily, on first lookup.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

# DESIGN.md §3: the départements a reference may name, code -> French name.
# Corsica is 2A/2B (20 no longer exists); the TAAF (984) and Clipperton (989)
# have no court and are deliberately absent.
DEPARTEMENTS: dict[str, str] = {
    "01": "Ain",
    "02": "Aisne",
    "03": "Allier",
    "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes",
    "07": "Ardèche",
    "08": "Ardennes",
    "09": "Ariège",
    "10": "Aube",
    "11": "Aude",
    "12": "Aveyron",
    "13": "Bouches-du-Rhône",
    "14": "Calvados",
    "15": "Cantal",
    "16": "Charente",
    "17": "Charente-Maritime",
    "18": "Cher",
    "19": "Corrèze",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
    "21": "Côte-d'Or",
    "22": "Côtes-d'Armor",
    "23": "Creuse",
    "24": "Dordogne",
    "25": "Doubs",
    "26": "Drôme",
    "27": "Eure",
    "28": "Eure-et-Loir",
    "29": "Finistère",
    "30": "Gard",
    "31": "Haute-Garonne",
    "32": "Gers",
    "33": "Gironde",
    "34": "Hérault",
    "35": "Ille-et-Vilaine",
    "36": "Indre",
    "37": "Indre-et-Loire",
    "38": "Isère",
    "39": "Jura",
    "40": "Landes",
    "41": "Loir-et-Cher",
    "42": "Loire",
    "43": "Haute-Loire",
    "44": "Loire-Atlantique",
    "45": "Loiret",
    "46": "Lot",
    "47": "Lot-et-Garonne",
    "48": "Lozère",
    "49": "Maine-et-Loire",
    "50": "Manche",
    "51": "Marne",
    "52": "Haute-Marne",
    "53": "Mayenne",
    "54": "Meurthe-et-Moselle",
    "55": "Meuse",
    "56": "Morbihan",
    "57": "Moselle",
    "58": "Nièvre",
    "59": "Nord",
    "60": "Oise",
    "61": "Orne",
    "62": "Pas-de-Calais",
    "63": "Puy-de-Dôme",
    "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées",
    "66": "Pyrénées-Orientales",
    "67": "Bas-Rhin",
    "68": "Haut-Rhin",
    "69": "Rhône",
    "70": "Haute-Saône",
    "71": "Saône-et-Loire",
    "72": "Sarthe",
    "73": "Savoie",
    "74": "Haute-Savoie",
    "75": "Paris",
    "76": "Seine-Maritime",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "79": "Deux-Sèvres",
    "80": "Somme",
    "81": "Tarn",
    "82": "Tarn-et-Garonne",
    "83": "Var",
    "84": "Vaucluse",
    "85": "Vendée",
    "86": "Vienne",
    "87": "Haute-Vienne",
    "88": "Vosges",
    "89": "Yonne",
    "90": "Territoire de Belfort",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "975": "Saint-Pierre-et-Miquelon",
    "976": "Mayotte",
    "977": "Saint-Barthélemy",
    "978": "Saint-Martin",
    "986": "Wallis-et-Futuna",
    "987": "Polynésie française",
    "988": "Nouvelle-Calédonie",
}

COMMUNES_RESOURCE = "data/communes.csv"


@dataclass(frozen=True, slots=True)
class Commune:
    """A current commune: INSEE code, official name and département code."""

    code: str
    name: str
    departement: str


@functools.cache
def _communes() -> dict[str, Commune]:
    """Load the shipped commune list, keyed by INSEE code."""
    path = resources.files("tgd").joinpath(COMMUNES_RESOURCE)
    with path.open("r", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        return {row["code"]: Commune(row["code"], row["nom"], row["departement"]) for row in reader}


def find_commune(code: str) -> Commune | None:
    """Return the current commune with this INSEE code, or None if there is none."""
    return _communes().get(code.strip().upper())


def departement_name(code: str) -> str | None:
    """Return the French name of a département code, or None if it is not one."""
    return DEPARTEMENTS.get(code.strip().upper())
