"""Demo data of the template library: the default layout and templates, published (the demo's
worker then pushes them to the demo provider accounts)."""

from typing import TextIO

from templates_lib.services.defaults import defaults_install


def seed(*, out: TextIO) -> None:
    created = defaults_install(
        brand={"brand_name": "Demo Shop", "support_email": "help@demo-shop.example"}
    )
    out.write(f"Templates: {len(created)} default templates installed and published.\n")
