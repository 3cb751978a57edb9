"""TGD: the core of the Téléphone Grave Danger teleassistance platform."""

__version__ = "0.1.0"
