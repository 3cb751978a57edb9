"""Commands of each capability, added to the ``tgd`` group by ``tgd/cli.py``.

Each module here defines ``register(main: click.Group) -> None``; the list
``MODULES`` says which are loaded, in order.
"""

MODULES = ("navettes", "jobs", "reports", "lineops", "inventory")
