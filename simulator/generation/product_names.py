"""Product names in the shop's language, where Faker can name a colour in it.

Faker names colours in German, French, Spanish and Portuguese (its color providers for
de_DE, fr_FR, es_ES and pt_BR); in the other supported locales it falls back to English
CSS names, so those shops keep the English catalogue ("Star Thermal Bottle"). A localized
name is the item, as a shop of that language calls it, and a colour: "Rucksack Koralle".
"""

from __future__ import annotations

from faker import Faker

from simulator.generation.values import SeededFaker

# The items of world._ITEMS, in their order.
_NOUNS = {
    "de": ("Trinkflasche", "Becher", "Tragetasche", "Notizbuch", "Rucksack", "Schal", "Kerze",
           "Lampe", "Kopfhörer", "Sneaker", "T-Shirt", "Kapuzenpullover", "Geldbörse",
           "Sonnenbrille", "Wasserfilter", "Schneidebrett", "Yogamatte", "Uhr"),
    "fr": ("Gourde", "Tasse", "Sac cabas", "Carnet", "Sac à dos", "Écharpe", "Bougie", "Lampe",
           "Casque audio", "Baskets", "T-shirt", "Sweat à capuche", "Portefeuille",
           "Lunettes de soleil", "Filtre à eau", "Planche à découper", "Tapis de yoga",
           "Montre"),
    "es": ("Botella", "Taza", "Bolsa tote", "Cuaderno", "Mochila", "Bufanda", "Vela", "Lámpara",
           "Auriculares", "Zapatillas", "Camiseta", "Sudadera", "Cartera", "Gafas de sol",
           "Filtro de agua", "Tabla de cortar", "Esterilla de yoga", "Reloj"),
    "pt": ("Garrafa", "Caneca", "Bolsa", "Caderno", "Mochila", "Cachecol", "Vela", "Luminária",
           "Fones de ouvido", "Tênis", "Camiseta", "Moletom", "Carteira", "Óculos de sol",
           "Filtro de água", "Tábua de corte", "Tapete de yoga", "Relógio"),
}  # fmt: skip


def local_name(fakes: SeededFaker, locale: str, item: int, rank: int) -> str | None:
    """The name in the locale's language of the `rank`th product of item number `item`
    (0 for the first slot selling that item, 1 for the next…), or None where Faker has no
    colour names in it. Products of one item get distinct colours, so a name names one
    product, as the English names do."""
    nouns = _NOUNS.get(locale[:2])
    if nouns is None:
        return None
    palette = fakes.at("product-colours", item, _palette)
    return f"{nouns[item]} {palette[rank % len(palette)]}"


def _palette(fake: Faker) -> list[str]:
    """Distinct colour names in Faker's order for this item's seed: more than the
    products of one item (PRODUCT_SLOTS over the 18 items, about 13) ever need."""
    seen: dict[str, None] = {}
    for _ in range(400):
        seen.setdefault(fake.color_name(), None)
        if len(seen) == 40:
            break
    return list(seen)
